#include "engine/smtp/line_reader.h"

#include <cstring>

#include "absl/strings/string_view.h"

namespace volley::smtp {

LineReader::Status LineReader::Next(absl::string_view* input, absl::string_view* line) {
  if (input->empty()) return Status::kNeedMore;
  const void* found = std::memchr(input->data(), '\n', input->size());
  if (found == nullptr) {
    // No line end yet. Once the held bytes reach the cap, the line can no longer fit (even a
    // lone LF would make it one octet too long), so stop storing it.
    if (!discarding_ && partial_.size() + input->size() >= max_line_length_) {
      discarding_ = true;
      partial_.clear();
    }
    if (!discarding_) partial_.append(input->data(), input->size());
    input->remove_prefix(input->size());
    return Status::kNeedMore;
  }
  const size_t through_lf = static_cast<const char*>(found) - input->data() + 1;
  absl::string_view chunk = input->substr(0, through_lf);
  input->remove_prefix(through_lf);
  if (discarding_) {
    discarding_ = false;
    return Status::kTooLong;
  }
  if (partial_.size() + chunk.size() > max_line_length_) {
    partial_.clear();
    return Status::kTooLong;
  }
  if (partial_.empty()) {
    // The common case: the whole line is in the input, so hand out a view of it.
    chunk.remove_suffix(1);
    if (!chunk.empty() && chunk.back() == '\r') chunk.remove_suffix(1);
    *line = chunk;
    return Status::kLine;
  }
  // The line started in earlier input. Swapping keeps both buffers' capacity for reuse.
  partial_.append(chunk.data(), chunk.size() - 1);
  line_storage_.swap(partial_);
  partial_.clear();
  absl::string_view result = line_storage_;
  if (!result.empty() && result.back() == '\r') result.remove_suffix(1);
  *line = result;
  return Status::kLine;
}

void LineReader::Clear() {
  partial_.clear();
  discarding_ = false;
  line_storage_.clear();
}

}  // namespace volley::smtp

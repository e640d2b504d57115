#include "engine/smtp/content_reader.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/base/logging.h"

namespace volley::smtp {
namespace {

// Caps the up-front reservation for a message body announced with SIZE=, so that a client
// cannot make us allocate max_message_size per connection just by asking.
constexpr uint64_t kMaxReserve = 1024 * 1024;

}  // namespace

std::optional<BdatArgument> ParseBdatArgument(absl::string_view argument) {
  std::vector<absl::string_view> words =
      absl::StrSplit(argument, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  BdatArgument parsed;
  const bool size_ok =
      !words.empty() && words[0].size() <= 20 &&
      std::all_of(words[0].begin(), words[0].end(),
                  [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) &&
      absl::SimpleAtoi(words[0], &parsed.size);
  parsed.last = words.size() == 2 && absl::EqualsIgnoreCase(words[1], "LAST");
  if (!size_ok || words.size() > 2 || (words.size() == 2 && !parsed.last)) return std::nullopt;
  return parsed;
}

ContentReader::ContentReader(uint64_t max_message_size, MemoryBudget* budget)
    : max_message_size_(max_message_size), unstuffer_(max_message_size), charge_(budget) {}

bool ContentReader::StartMessage(uint64_t size_hint) {
  Clear();
  wire_bytes_ = 0;
  refused_ = false;
  // The whole announced size is charged (what SIZE= promises is coming), a part reserved.
  if (!charge_.GrowTo(std::min(size_hint, max_message_size_))) return false;
  content_.reserve(std::min<uint64_t>(size_hint, kMaxReserve));
  if (!charge_.GrowTo(content_.capacity())) {
    Clear();
    return false;
  }
  return true;
}

bool ContentReader::Reserve(size_t extra) {
  if (refused_) return false;
  // Beyond the size limit nothing is stored (the message is refused with 552 at its end).
  const uint64_t need = std::min<uint64_t>(content_.size() + extra, max_message_size_);
  if (need > content_.capacity()) {
    // Geometric growth, as std::string's own, but charged before the allocation; when the
    // budget cannot take the doubling, just what is needed.
    const uint64_t doubled =
        std::min<uint64_t>(std::max<uint64_t>(need, 2 * content_.capacity()), max_message_size_);
    const uint64_t target = charge_.GrowTo(doubled) ? doubled : need;
    if (!charge_.GrowTo(target)) return Refuse();
    content_.reserve(static_cast<size_t>(target));
  }
  // The allocator may have rounded up.
  if (!charge_.GrowTo(content_.capacity())) return Refuse();
  return true;
}

bool ContentReader::Refuse() {
  // Over budget: nothing of this message is kept, and its memory goes back now.
  refused_ = true;
  std::string().swap(content_);
  charge_.Release();
  return false;
}

void ContentReader::StartData() {
  mode_ = Mode::kData;
  unstuffer_.Reset();
}

bool ContentReader::ChunkFits(uint64_t size) const {
  // The first test keeps the sum from wrapping around.
  return size <= max_message_size_ && content_.size() + size <= max_message_size_;
}

void ContentReader::StartChunk(uint64_t size, bool last, bool discard) {
  mode_ = Mode::kChunk;
  chunk_size_ = size;
  chunk_remaining_ = size;
  chunk_last_ = last;
  chunk_discard_ = discard;
}

size_t ContentReader::Feed(absl::string_view* input) {
  switch (mode_) {
    case Mode::kData: {
      // Room for everything `input` could add is charged before the body grows into it.
      Reserve(input->size());
      const size_t used = unstuffer_.Feed(*input, refused_ ? &scratch_ : &content_);
      scratch_.clear();
      input->remove_prefix(used);
      wire_bytes_ += used;
      return used;
    }
    case Mode::kChunk: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(input->size(), chunk_remaining_));
      if (!chunk_discard_ && Reserve(n)) content_.append(input->data(), n);
      input->remove_prefix(n);
      chunk_remaining_ -= n;
      if (chunk_discard_) return 0;
      wire_bytes_ += n;
      return n;
    }
    case Mode::kIdle:
      break;
  }
  DCHECK(false) << "content fed with no body or chunk started";
  return 0;
}

bool ContentReader::finished() const {
  switch (mode_) {
    case Mode::kData:
      return unstuffer_.done();
    case Mode::kChunk:
      return chunk_remaining_ == 0;
    case Mode::kIdle:
      break;
  }
  return false;
}

ContentReader::End ContentReader::end() const {
  DCHECK(finished());
  if (mode_ == Mode::kData) {
    if (unstuffer_.overflowed()) return End::kTooBig;
    return refused_ ? End::kRefused : End::kMessage;
  }
  if (chunk_discard_) return End::kDiscarded;
  if (refused_) return End::kRefused;
  return chunk_last_ ? End::kMessage : End::kChunk;
}

std::string ContentReader::TakeContent(MemoryCharge* charge) {
  std::string content = std::move(content_);
  content_ = std::string();
  if (charge != nullptr) {
    *charge = std::move(charge_);
    charge_ = MemoryCharge(charge->budget());
  } else {
    charge_.Release();
  }
  return content;
}

void ContentReader::Clear() {
  // The memory goes too: an idle session holds no content and no charge.
  std::string().swap(content_);
  charge_.Release();
  refused_ = false;
}

}  // namespace volley::smtp

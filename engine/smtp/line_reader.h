// Splits a byte stream into CRLF-terminated lines with a length cap. Used for SMTP command
// lines (server) and reply lines (client). Bare LF is accepted as a line end (lenient, as
// Postfix is); a CR before the LF is removed.
#ifndef VOLLEY_ENGINE_SMTP_LINE_READER_H_
#define VOLLEY_ENGINE_SMTP_LINE_READER_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace volley::smtp {

class LineReader {
 public:
  // `max_line_length` counts the octets of a line including its line ending as received (CRLF,
  // or a bare LF: one octet) (RFC 5321 4.5.3.1.4: 512 for command lines; we use 1000 as the
  // issue's limit for the whole line). While an over-long line is being skipped, none of it is
  // buffered, so memory stays bounded whatever the peer sends.
  explicit LineReader(size_t max_line_length) : max_line_length_(max_line_length) {}

  enum class Status {
    kNeedMore,  // no complete line in the input consumed so far
    kLine,      // *line holds one line without its line ending
    kTooLong,   // a line exceeded the cap; its bytes up to and including the LF were skipped
                // (reported once its LF arrives; kNeedMore until then)
  };

  // Consumes bytes from *input (advancing it) until a line is complete or the input is used
  // up. On kLine, `*line` points into the reader's buffer or into the input and is valid until
  // the next call. On kTooLong the over-long line has been discarded entirely (through its LF).
  // Bytes after the returned line stay in *input for the next call.
  Status Next(absl::string_view* input, absl::string_view* line);

  // Bytes of an incomplete line held from earlier input.
  size_t buffered() const { return partial_.size(); }
  void Clear();

 private:
  size_t max_line_length_;
  std::string partial_;       // an incomplete line carried between calls
  bool discarding_ = false;   // skipping the rest of an over-long line
  std::string line_storage_;  // backing for a returned line that spanned calls
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_LINE_READER_H_

// The content phase of a message on the ESMTP server side: the DATA body up to its end-of-data
// line (RFC 5321 4.5.2, unstuffed as DotUnstuffer does) or the octets of BDAT chunks (RFC 3030,
// taken as they are), within the message size limit. Pure: MailTransaction decides which
// chunks to refuse and what to answer, and the session talks to the handler.
#ifndef VOLLEY_ENGINE_SMTP_CONTENT_READER_H_
#define VOLLEY_ENGINE_SMTP_CONTENT_READER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/base/memory_budget.h"
#include "engine/smtp/dot_stuffing.h"

namespace volley::smtp {

// The argument of "BDAT <size> [LAST]".
struct BdatArgument {
  uint64_t size = 0;
  bool last = false;
};

// A size of 1 to 20 digits that fits in 64 bits, then optionally "LAST" (case-insensitive),
// separated by blanks (SP, HTAB). Returns nullopt for anything else: without a size the chunk
// cannot be skipped, so the caller refuses the command (501) and reads on for commands.
std::optional<BdatArgument> ParseBdatArgument(absl::string_view argument);

// Collects one message's content at a time. Not thread-safe: it runs on the thread of the
// session that owns it.
//
// DATA: StartMessage, StartData, then Feed until finished(). BDAT: StartMessage with the first
// chunk accepted, then StartChunk and Feed until finished() for each chunk, refused ones
// included (discarded), so that the session stays in step with the client.
class ContentReader {
 public:
  // How the body or chunk just read ended.
  enum class End {
    kMessage,    // the message is complete (DATA's end, or the LAST chunk): TakeContent()
    kChunk,      // a chunk other than the last was added to the message
    kTooBig,     // the DATA body went over the limit: it was read to its end and not kept
    kDiscarded,  // a chunk started with `discard` was read and thrown away
    kRefused,    // the memory budget could not take the content: read to its end, not kept
  };

  // With a `budget`, every byte the content holds (its capacity, and what StartMessage
  // reserves) is charged to it first; when the budget is spent the message is refused: what
  // it held is freed at once, the rest is read and thrown away, and it ends kRefused.
  explicit ContentReader(uint64_t max_message_size, MemoryBudget* budget = nullptr);
  ContentReader(const ContentReader&) = delete;
  ContentReader& operator=(const ContentReader&) = delete;

  // A new message: drops any content held and reserves room for `size_hint` octets (from
  // SIZE=), capped so that a client cannot make us allocate much just by announcing it. With a
  // budget the whole hint (up to the size limit) is charged; false, and nothing charged, when
  // the budget cannot take it.
  bool StartMessage(uint64_t size_hint);

  // After the 354: the DATA body follows.
  void StartData();

  // Whether `size` more octets of chunks keep the content held within the size limit.
  bool ChunkFits(uint64_t size) const;

  // After a BDAT command: the next `size` octets are a chunk, added to the message or, with
  // `discard` (the command was refused), read and thrown away. A chunk of 0 octets is
  // finished() at once.
  void StartChunk(uint64_t size, bool last, bool discard);

  // Takes content from the front of *input: for DATA up to and including the end-of-data line,
  // for a chunk up to its size; the rest stays in *input (pipelined commands). Returns how many
  // of the octets taken count towards the message (all, or none for a discarded chunk).
  size_t Feed(absl::string_view* input);

  // The body or chunk started last is all read; end() tells how it ended.
  bool finished() const;
  End end() const;

  // Octets of this message received so far as sent on the wire (DATA before unstuffing, BDAT
  // chunks not discarded), for ServerSessionHandler::ContinueData.
  size_t wire_bytes() const { return wire_bytes_; }
  // The size of the chunk started last, for its reply.
  uint64_t chunk_size() const { return chunk_size_; }

  // The message (DATA unstuffed with CRLF line ends and without the final ".", or the chunks
  // joined); the reader holds none after.
  // The charge for it moves to *charge (when not null; else it is released).
  std::string TakeContent(MemoryCharge* charge = nullptr);
  // Drops the content held (a message refused or abandoned), and its charge.
  void Clear();

  // Bytes charged to the budget for the content now.
  uint64_t charged() const { return charge_.bytes(); }

 private:
  enum class Mode { kIdle, kData, kChunk };

  // Makes room for `extra` more octets of content, charged first; false when the message is
  // (or now becomes) refused for want of budget.
  bool Reserve(size_t extra);
  bool Refuse();

  const uint64_t max_message_size_;
  DotUnstuffer unstuffer_;
  Mode mode_ = Mode::kIdle;
  std::string content_;    // the DATA body or the BDAT chunks received so far
  size_t wire_bytes_ = 0;  // see wire_bytes()
  uint64_t chunk_size_ = 0;
  uint64_t chunk_remaining_ = 0;
  bool chunk_last_ = false;
  bool chunk_discard_ = false;
  MemoryCharge charge_;
  bool refused_ = false;  // the budget refused this message's content
  std::string scratch_;   // DATA unstuffed after a refusal, dropped as it is made
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_CONTENT_READER_H_

#include "engine/smtp/dot_stuffing.h"

#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace volley::smtp {
namespace {

const char* FindByte(const char* begin, const char* end, char c) {
  return static_cast<const char*>(std::memchr(begin, c, end - begin));
}

// Shared by DotStuff and NormalizeCrlf. The output equals the input except at a bare LF or
// bare CR (completed to CRLF) and, when stuffing, at a '.' starting a line (doubled), so the
// body is copied in spans between those points. The next CR and the next LF are each found
// with memchr and searched again only once passed: for a bare-LF body the CR search runs
// once over the whole body, for a CRLF body both searches stop at the end of each line.
void AppendNormalized(absl::string_view body, bool stuff, std::string* out) {
  const char* p = body.data();
  const char* const end = p + body.size();
  const char* run = p;  // start of the bytes not yet appended
  const char* cr = FindByte(p, end, '\r');
  const char* lf = FindByte(p, end, '\n');
  if (stuff && p < end && *p == '.') out->push_back('.');
  while (cr != nullptr || lf != nullptr) {
    if (lf != nullptr && (cr == nullptr || lf < cr)) {
      // Bare LF.
      out->append(run, lf - run);
      out->append("\r\n");
      p = lf + 1;
      run = p;
    } else if (cr + 1 < end && cr[1] == '\n') {
      p = cr + 2;  // CRLF: nothing to change, the run goes on.
    } else {
      // Bare CR.
      out->append(run, cr + 1 - run);
      out->push_back('\n');
      p = cr + 1;
      run = p;
    }
    if (cr != nullptr && cr < p) cr = FindByte(p, end, '\r');
    if (lf != nullptr && lf < p) lf = FindByte(p, end, '\n');
    if (stuff && p < end && *p == '.') {
      // The extra dot goes before the line's own, which stays in the run.
      out->append(run, p - run);
      out->push_back('.');
      run = p;
    }
  }
  out->append(run, end - run);
}

}  // namespace

// One state machine over every octet of every DATA body, the injection path's hottest loop
// (9-12 GB/s in //bench:smtp_codec_bench): it is kept whole, longer than the 80 lines the
// house allows, so that the compiler keeps the state in registers and the common case (a run
// of ordinary octets) stays one tight scan.
size_t DotUnstuffer::Feed(absl::string_view input, std::string* out) {
  if (done_) return 0;
  const char* p = input.data();
  const char* const end = p + input.size();

  // Appends `n` bytes of message content unless the cap has been reached.
  auto emit = [this, out](const char* s, size_t n) {
    if (n == 0) return;
    const size_t before = total_size_;
    total_size_ += n;
    if (overflowed_) return;
    if (total_size_ <= max_size_) {
      out->append(s, n);
    } else {
      if (before < max_size_) out->append(s, max_size_ - before);
      overflowed_ = true;
    }
  };
  // Ends the message; the bytes after the marker are left to the caller.
  auto finish = [this, input](const char* after_marker) {
    done_ = true;
    return static_cast<size_t>(after_marker - input.data());
  };

  while (p < end) {
    // First settle a state left by the previous call, one byte at a time.
    switch (state_) {
      case State::kLineStart:
        if (*p == '.') {
          state_ = State::kDotAtLineStart;
          ++p;
          continue;
        }
        state_ = State::kMidLine;
        break;
      case State::kBareLineStart:
        // After a bare LF a leading dot is transparency only, never the end of data.
        if (*p == '.') ++p;
        state_ = State::kMidLine;
        continue;
      case State::kSawCr:
        if (*p == '\n') {
          emit("\r\n", 2);
          ++p;
          state_ = State::kLineStart;
          continue;
        }
        emit("\r", 1);  // A bare CR is content.
        state_ = State::kMidLine;
        break;
      case State::kDotAtLineStart:
        if (*p == '\n') {
          // ".\n" is not the end of data: a "." line whose dot was stuffing, ended by a bare
          // LF that the copy below turns into CRLF.
          state_ = State::kMidLine;
          break;
        }
        if (*p == '\r') {
          state_ = State::kDotCr;
          ++p;
          continue;
        }
        state_ = State::kMidLine;  // The dot was stuffing: it stays dropped.
        break;
      case State::kDotCr:
        if (*p == '\n') return finish(p + 1);
        state_ = State::kSawCr;  // ".\r" then more: a stuffed line holding a bare CR.
        continue;
      case State::kMidLine:
        break;
    }

    // kMidLine at p < end: copy spans line by line. CRLF lines not starting with a dot are
    // copied unchanged, so a run may cover many lines and is appended in one piece.
    const char* run = p;
    while (true) {
      const char* lf = FindByte(p, end, '\n');
      if (lf == nullptr) {
        if (end[-1] == '\r') {
          // Maybe the first half of a CRLF: hold it until the next byte is known.
          emit(run, end - 1 - run);
          state_ = State::kSawCr;
        } else {
          emit(run, end - run);
        }
        return input.size();
      }
      const bool bare = lf == p || lf[-1] != '\r';
      if (bare) {
        // Bare LF: the output line ends in CRLF.
        emit(run, lf - run);
        emit("\r\n", 2);
        run = lf + 1;
      }
      p = lf + 1;
      if (p == end) {
        emit(run, p - run);
        state_ = bare ? State::kBareLineStart : State::kLineStart;
        return input.size();
      }
      if (*p != '.') continue;
      // A line starting with a dot: a stuffed line, or the end of data when the dot sits
      // between two real CRLFs.
      emit(run, p - run);
      ++p;
      run = p;
      if (bare) continue;
      if (p == end) {
        state_ = State::kDotAtLineStart;
        return input.size();
      }
      if (*p == '\r') {
        if (p + 1 == end) {
          state_ = State::kDotCr;
          return input.size();
        }
        if (p[1] == '\n') return finish(p + 2);
        // ".\r" then more: the CR is content and stays in the run.
      }
    }
  }
  return input.size();
}

void DotUnstuffer::Reset() {
  state_ = State::kLineStart;
  total_size_ = 0;
  done_ = false;
  overflowed_ = false;
}

void DotStuff(absl::string_view body, std::string* out) {
  // Room for the terminator and a few stuffed dots or completed line ends; a bare-LF body
  // grows more and lets the string double as usual.
  out->reserve(out->size() + body.size() + body.size() / 64 + 8);
  AppendNormalized(body, /*stuff=*/true, out);
  if (!body.empty() && body.back() != '\n' && body.back() != '\r') out->append("\r\n");
  out->append(".\r\n");
}

void NormalizeCrlf(absl::string_view body, std::string* out) {
  out->reserve(out->size() + body.size() + body.size() / 64);
  AppendNormalized(body, /*stuff=*/false, out);
}

}  // namespace volley::smtp

#include "engine/base/json.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace volley {
namespace {

// Length of the valid UTF-8 sequence starting at s[0], or 0 if invalid.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t len;
  uint32_t min;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  uint32_t cp = b0 & (0x7f >> len);
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

}  // namespace

void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    // Copy runs of plain characters in one append.
    size_t run = i;
    while (run < text.size()) {
      const auto c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out->append(text.data() + i, run - i);
    i = run;
    if (i >= text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(text.substr(i));
      if (len == 0) {
        out->append("\xEF\xBF\xBD");
        ++i;
      } else {
        out->append(text.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        absl::StrAppendFormat(out, "\\u%04x", c);
    }
    ++i;
  }
  out->push_back('"');
}

void JsonObjectWriter::Key(absl::string_view key) {
  if (!first_) out_->push_back(',');
  first_ = false;
  AppendJsonString(out_, key);
  out_->push_back(':');
}

JsonObjectWriter& JsonObjectWriter::String(absl::string_view key, absl::string_view value) {
  Key(key);
  AppendJsonString(out_, value);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Int(absl::string_view key, int64_t value) {
  Key(key);
  absl::StrAppend(out_, value);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Uint(absl::string_view key, uint64_t value) {
  Key(key);
  absl::StrAppend(out_, value);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Double(absl::string_view key, double value) {
  Key(key);
  if (std::isfinite(value)) {
    absl::StrAppendFormat(out_, "%.6g", value);
  } else {
    out_->append("null");
  }
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Bool(absl::string_view key, bool value) {
  Key(key);
  out_->append(value ? "true" : "false");
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Null(absl::string_view key) {
  Key(key);
  out_->append("null");
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Raw(absl::string_view key, absl::string_view json) {
  Key(key);
  out_->append(json.data(), json.size());
  return *this;
}

JsonObjectWriter& JsonObjectWriter::BeginObject(absl::string_view key) {
  Key(key);
  out_->push_back('{');
  first_ = true;
  return *this;
}

JsonObjectWriter& JsonObjectWriter::EndObject() {
  out_->push_back('}');
  first_ = false;
  return *this;
}

JsonObjectWriter& JsonObjectWriter::StringOrNull(absl::string_view key, absl::string_view value) {
  return value.empty() ? Null(key) : String(key, value);
}

JsonObjectWriter& JsonObjectWriter::TimeOrNull(absl::string_view key, absl::Time t) {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) return Null(key);
  return String(key, Rfc3339(t));
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

bool ParseRfc3339(absl::string_view text, absl::Time* t) {
  std::string error;
  return absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S%Ez", std::string(text), absl::UTCTimeZone(), t,
                         &error);
}

}  // namespace volley

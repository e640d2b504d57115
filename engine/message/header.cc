#include "engine/message/header.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace volley::message {
namespace {

// Length of the field name when `line` starts a header field, 0 otherwise.
size_t FieldNameLength(absl::string_view line) {
  size_t i = 0;
  while (i < line.size()) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == ':' || c <= ' ' || c == 127) break;
    ++i;
  }
  const size_t name_length = i;
  if (name_length == 0) return 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':' ? name_length : 0;
}

bool IsContinuation(absl::string_view line) {
  return !line.empty() && (line[0] == ' ' || line[0] == '\t');
}

}  // namespace

Line LineAt(absl::string_view text, size_t pos) {
  const size_t nl = text.find('\n', pos);
  const size_t end = nl == absl::string_view::npos ? text.size() : nl;
  absl::string_view content = text.substr(pos, end - pos);
  if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
  return {content, nl == absl::string_view::npos ? text.size() : nl + 1};
}

bool HeaderReader::Next(HeaderField* field) {
  if (done_) return false;
  while (pos_ < message_.size()) {
    const Line line = LineAt(message_, pos_);
    if (line.text.empty()) {
      separator_ = message_.substr(pos_, line.next - pos_);
      body_start_ = line.next;
      break;
    }
    const size_t name_length = FieldNameLength(line.text);
    if (name_length == 0) {
      // A stray continuation line before any field, or a line that is no field: the body
      // starts here, without an empty line before it.
      body_start_ = pos_;
      break;
    }
    // The field runs on over its continuation lines.
    size_t end = line.next;
    while (end < message_.size()) {
      const Line more = LineAt(message_, end);
      if (!IsContinuation(more.text)) break;
      end = more.next;
    }
    field->name = line.text.substr(0, name_length);
    field->raw = message_.substr(pos_, end - pos_);
    pos_ = end;
    return true;
  }
  if (pos_ >= message_.size()) body_start_ = message_.size();
  done_ = true;
  return false;
}

HeaderSection SplitHeader(absl::string_view message) {
  HeaderSection section;
  HeaderReader reader(message);
  HeaderField field;
  while (reader.Next(&field)) section.fields.push_back(field);
  section.separator = reader.separator();
  section.body = reader.body();
  return section;
}

const HeaderField* FindField(const HeaderSection& section, absl::string_view name) {
  for (const HeaderField& field : section.fields) {
    if (absl::EqualsIgnoreCase(field.name, name)) return &field;
  }
  return nullptr;
}

std::string UnfoldedValue(const HeaderField& field) {
  absl::string_view raw = field.raw;
  raw.remove_prefix(raw.find(':') + 1);
  std::string value;
  value.reserve(raw.size());
  for (char c : raw) {
    if (c != '\r' && c != '\n') value.push_back(c);
  }
  return value;
}

std::string FindHeader(absl::string_view message, absl::string_view name) {
  HeaderReader reader(message);
  HeaderField field;
  while (reader.Next(&field)) {
    if (!absl::EqualsIgnoreCase(field.name, name)) continue;
    absl::string_view raw = field.raw;
    raw.remove_prefix(raw.find(':') + 1);
    std::string value;
    for (size_t pos = 0; pos < raw.size();) {
      const Line line = LineAt(raw, pos);
      const absl::string_view part = absl::StripAsciiWhitespace(line.text);
      if (!part.empty()) absl::StrAppend(&value, value.empty() ? "" : " ", part);
      pos = line.next;
    }
    return value;
  }
  return "";
}

}  // namespace volley::message

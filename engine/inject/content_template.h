// The templates of an injection request's content (POST /api/inject/v1), compiled once per
// request and rendered once per recipient with kainjow mustache (libkainjow-mustache-dev):
// {{ name }} placeholders, {{# list }} sections, {{{ raw }}}. What a placeholder's value may
// hold depends on where it lands: HTML parts escape it, header fields refuse a line break in
// it (header injection), text parts take it as it is.
#ifndef VOLLEY_ENGINE_INJECT_CONTENT_TEMPLATE_H_
#define VOLLEY_ENGINE_INJECT_CONTENT_TEMPLATE_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/inject/inject_v1_request.h"

namespace kainjow::mustache {
template <typename S>
class basic_mustache;
template <typename S>
class basic_data;
}  // namespace kainjow::mustache

namespace volley::inject {

// A layer of substitutions (the request's, then each recipient's on top), as the template
// engine reads them. Built once per layer; immutable after.
class Substitutions {
 public:
  // From a JSON object: strings as they are, numbers in their JSON form, booleans and null for
  // sections ({{# flag }}), arrays as lists and objects as nested names ({{ a.b }}).
  explicit Substitutions(const nlohmann::json& object);
  ~Substitutions();
  Substitutions(Substitutions&&) noexcept;
  Substitutions& operator=(Substitutions&&) noexcept;

  // Sets a string value (the built-in variables email, name, to_header).
  void Set(const std::string& name, const std::string& value);

  const kainjow::mustache::basic_data<std::string>& data() const { return *data_; }

 private:
  std::unique_ptr<kainjow::mustache::basic_data<std::string>> data_;
};

// Not thread-safe: one renders at a time (a request's messages are built one after another).
class ContentTemplate {
 public:
  enum class Escape {
    kNone,          // text parts and raw messages' bodies
    kHtml,          // HTML parts: {{ v }} HTML-escaped, {{{ v }}} as it is
    kNoLineBreaks,  // one header field's value: a line break in the result fails it
    // The header section of a raw message: a value may not add a line (a field of its own).
    kHeaderSection,
  };

  // `field` names the template in errors ("content.html_body"). A template that does not parse
  // is InvalidArgument naming the field. With the static dialect the text is used as it is.
  static absl::StatusOr<std::unique_ptr<ContentTemplate>> Compile(std::string text,
                                                                  TemplateDialect dialect,
                                                                  Escape escape,
                                                                  absl::string_view field);
  ~ContentTemplate();

  // The text with `base` and `top` (which wins) substituted. InvalidArgument naming the field
  // when a header field's value brings a line break.
  absl::StatusOr<std::string> Render(const Substitutions& base, const Substitutions& top);

  const std::string& field() const { return field_; }

 private:
  ContentTemplate() = default;
  // mustache_ from text_, with the escape handler escape_ asks for.
  void MakeEngine();

  std::string field_;
  std::string text_;  // the static dialect's text, or the source for errors
  Escape escape_ = Escape::kNone;
  bool has_tags_ = false;
  bool line_break_seen_ = false;  // set by the escape handler during a Render
  std::unique_ptr<kainjow::mustache::basic_mustache<std::string>> mustache_;
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_CONTENT_TEMPLATE_H_

#include "engine/inject/content_template.h"

#include <algorithm>
#include <kainjow/mustache.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/json_request.h"

namespace volley::inject {
namespace {

namespace mustache = kainjow::mustache;
using Data = mustache::basic_data<std::string>;

Data FromJson(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::string:
      return Data(value.get_ref<const std::string&>());
    case nlohmann::json::value_t::boolean:
      return Data(value.get<bool>() ? Data::type::bool_true : Data::type::bool_false);
    case nlohmann::json::value_t::null:
      return Data(Data::type::bool_false);
    case nlohmann::json::value_t::array: {
      mustache::basic_list<std::string> list;
      list.reserve(value.size());
      for (const nlohmann::json& element : value) list.push_back(FromJson(element));
      return Data(list);
    }
    case nlohmann::json::value_t::object: {
      Data object(Data::type::object);
      for (auto it = value.begin(); it != value.end(); ++it) object.set(it.key(), FromJson(*it));
      return object;
    }
    default:  // numbers, as JSON writes them (42, 1.5)
      return Data(value.dump());
  }
}

// Whether every tag of `text` is a plain {{ name }} (or a {{! comment }}): no sections, which
// repeat or drop lines, no {{{ }}} or {{& }}, which the escape handler never sees, no partials
// and no delimiter changes.
bool OnlyPlainTags(absl::string_view text) {
  for (size_t at = text.find("{{"); at != absl::string_view::npos; at = text.find("{{", at + 2)) {
    size_t i = at + 2;
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) return false;
    const char c = text[i];
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '!') {
      return false;
    }
  }
  return true;
}

size_t LineBreaks(absl::string_view text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

Substitutions::Substitutions(const nlohmann::json& object)
    : data_(std::make_unique<Data>(object.is_object() ? FromJson(object)
                                                      : Data(Data::type::object))) {}
Substitutions::~Substitutions() = default;
Substitutions::Substitutions(Substitutions&&) noexcept = default;
Substitutions& Substitutions::operator=(Substitutions&&) noexcept = default;

void Substitutions::Set(const std::string& name, const std::string& value) {
  data_->set(name, Data(value));
}

absl::StatusOr<std::unique_ptr<ContentTemplate>> ContentTemplate::Compile(std::string text,
                                                                          TemplateDialect dialect,
                                                                          Escape escape,
                                                                          absl::string_view field) {
  std::unique_ptr<ContentTemplate> t(new ContentTemplate());
  t->field_ = std::string(field);
  t->escape_ = escape;
  // Without a tag there is nothing to expand: the text is used as it is, at no cost per
  // recipient.
  t->has_tags_ = dialect == TemplateDialect::kMustache && absl::StrContains(text, "{{");
  if (t->has_tags_ && escape == Escape::kHeaderSection && !OnlyPlainTags(text)) {
    return FieldError(field,
                      "the header section may hold only {{ name }} placeholders (no sections, "
                      "{{{ }}}, {{& }}, partials or delimiter changes), so that no value can add "
                      "a header field");
  }
  t->text_ = std::move(text);
  if (t->has_tags_) {
    t->MakeEngine();
    if (!t->mustache_->is_valid()) {
      return FieldError(
          field, absl::StrCat("the template does not parse: ", t->mustache_->error_message()));
    }
  }
  return t;
}

void ContentTemplate::MakeEngine() {
  mustache_ = std::make_unique<mustache::basic_mustache<std::string>>(text_);
  switch (escape_) {
    case Escape::kHtml:
      break;  // the library's own HTML escaping
    case Escape::kNone:
      mustache_->set_custom_escape([](const std::string& s) { return s; });
      break;
    case Escape::kNoLineBreaks:
    case Escape::kHeaderSection:
      mustache_->set_custom_escape([this](const std::string& s) {
        if (s.find_first_of("\r\n") != std::string::npos) line_break_seen_ = true;
        return s;
      });
      break;
  }
}

ContentTemplate::~ContentTemplate() = default;

absl::StatusOr<std::string> ContentTemplate::Render(const Substitutions& base,
                                                    const Substitutions& top) {
  if (!has_tags_) return text_;
  line_break_seen_ = false;
  mustache::context<std::string> context(&base.data());
  context.push(&top.data());
  std::string out = mustache_->render(context);
  if (!mustache_->is_valid()) {
    // The error sticks to the template: compile it again for the next recipient.
    std::string error = mustache_->error_message();
    MakeEngine();
    return FieldError(field_, absl::StrCat("the template cannot be rendered: ", error));
  }
  bool broken = line_break_seen_;
  if (escape_ == Escape::kNoLineBreaks) {
    broken = broken || out.find_first_of("\r\n") != std::string::npos;
  } else if (escape_ == Escape::kHeaderSection) {
    // With plain tags only, every line of the result is a line of the template; the escape
    // handler has seen every value, and this catches what a value could do beyond it.
    broken =
        broken || LineBreaks(out) != LineBreaks(text_) ||
        std::count(out.begin(), out.end(), '\r') != std::count(text_.begin(), text_.end(), '\r');
  }
  if (broken) {
    return FieldError(field_,
                      "a substituted value has a line break, which would start a header "
                      "field of its own");
  }
  return out;
}

}  // namespace volley::inject

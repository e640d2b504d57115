// [delivery]; see delivery_section.h.
#include "engine/config/delivery_section.h"

#include <cstdint>

namespace volley::config {

void ParseDeliverySection(const toml::table& table, ConfigParser& parser, Config& config) {
  DeliveryConfig& delivery = config.delivery;
  CrossSectionState& cross_section = parser.cross_section();
  parser.Walk(table, "delivery",
              {
                  {"port",
                   [&](const toml::node& v) {
                     if (auto n = parser.ReadInteger(v, "[delivery] port", 1, 65535)) {
                       delivery.port = static_cast<uint16_t>(*n);
                     }
                   }},
                  {"retry_initial",
                   [&](const toml::node& v) {
                     if (auto d = parser.ReadDuration(v, "[delivery] retry_initial")) {
                       delivery.retry_initial = *d;
                       cross_section.retry_initial_line = v.source().begin.line;
                     }
                   }},
                  {"retry_max",
                   [&](const toml::node& v) {
                     if (auto d = parser.ReadDuration(v, "[delivery] retry_max")) {
                       delivery.retry_max = *d;
                       cross_section.retry_max_line = v.source().begin.line;
                     }
                   }},
                  {"max_age",
                   [&](const toml::node& v) {
                     if (auto d = parser.ReadDuration(v, "[delivery] max_age")) {
                       delivery.max_age = *d;
                     }
                   }},
                  {"dsn",
                   [&](const toml::node& v) {
                     if (auto b = parser.ReadBool(v, "[delivery] dsn")) delivery.dsn = *b;
                   }},
                  {"delay_dsn_after",
                   [&](const toml::node& v) {
                     // "": no delay notices.
                     if (auto d = parser.ReadDurationOrEmpty(v, "[delivery] delay_dsn_after",
                                                             absl::ZeroDuration())) {
                       delivery.delay_dsn_after = *d;
                     }
                   }},
              },
              {});
}

}  // namespace volley::config

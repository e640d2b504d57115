// libFuzzer target: any address at the bounce domain (VERP decoding), and the round trip of any
// recipient through the encoding.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "engine/bounce/verp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const volley::bounce::VerpCodec* codec =
      new volley::bounce::VerpCodec("bounces.example.net", "fuzz key");
  const std::string input(reinterpret_cast<const char*>(data), size);
  // Whatever decodes names a message (16 hex digits) and a recipient.
  for (const std::string& address : {input, input + "@bounces.example.net"}) {
    absl::StatusOr<volley::bounce::VerpAddress> any = codec->Decode(address);
    if (any.ok() && (any->queue_id.size() != 16 || any->recipient.empty())) std::abort();
  }
  if (input.empty()) return 0;  // a recipient is never empty
  const std::string encoded = codec->Encode("0123456789abcdef", input);
  absl::StatusOr<volley::bounce::VerpAddress> back = codec->Decode(encoded);
  if (!back.ok() || back->recipient != input) std::abort();  // the encoding must reverse
  return 0;
}

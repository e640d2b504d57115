// libFuzzer target: any message sent to the bounce domain, read and mapped as the intake does.
#include <cstdint>
#include <string>

#include "engine/bounce/inbound_mapping.h"
#include "engine/bounce/inbound_report.h"
#include "engine/bounce/verp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const volley::bounce::VerpCodec* codec =
      new volley::bounce::VerpCodec("bounces.example.net", "fuzz key");
  const std::string message(reinterpret_cast<const char*>(data), size);
  const volley::bounce::InboundReport report = volley::bounce::ParseInboundReport(message);
  // The RCPT TO as the report's own text might claim it.
  volley::bounce::MapInbound(report, {report.OriginalHeader("Return-Path"), message.substr(0, 80)},
                             codec);
  return 0;
}

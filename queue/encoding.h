// Compact binary encoding for spool keys and values: big-endian fixed-width keys (so RocksDB's
// byte order is numeric order) and varint/length-prefixed values.
#ifndef VOLLEY_QUEUE_ENCODING_H_
#define VOLLEY_QUEUE_ENCODING_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace volley::queue {

void PutFixed32BE(std::string* out, uint32_t value);
void PutFixed64BE(std::string* out, uint64_t value);
void PutVarint64(std::string* out, uint64_t value);
void PutLengthPrefixed(std::string* out, absl::string_view value);

// Readers consume from the front of *in and return false on truncated or malformed input.
bool GetFixed32BE(absl::string_view* in, uint32_t* value);
bool GetFixed64BE(absl::string_view* in, uint64_t* value);
bool GetVarint64(absl::string_view* in, uint64_t* value);
bool GetLengthPrefixed(absl::string_view* in, std::string* value);

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_ENCODING_H_

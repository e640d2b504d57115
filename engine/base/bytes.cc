#include "engine/base/bytes.h"

#include <cstdint>
#include <cstring>

namespace volley {

bool HasEightBit(absl::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ull) return true;
    p += 8;
    n -= 8;
  }
  for (; n > 0; ++p, --n) {
    if (static_cast<unsigned char>(*p) & 0x80) return true;
  }
  return false;
}

}  // namespace volley

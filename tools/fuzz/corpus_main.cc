// A main for libFuzzer targets built without libFuzzer (g++, the Bazel build): runs the target
// over every file of the seed corpora named on the command line, and over deterministic
// variants of each (truncated at every 1/16th, with bytes flipped, doubled), so that `bazel
// test` proves each target runs clean over its corpus, under ASan too. The real fuzzing is
// tools/fuzz/run.sh (clang, -fsanitize=fuzzer).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

void RunVariants(const std::string& input) {
  Run(input);
  for (size_t cut = 1; cut < 16; ++cut) Run(input.substr(0, input.size() * cut / 16));
  std::string flipped = input;
  for (size_t i = 0; i < flipped.size(); i += 97) flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
  Run(flipped);
  Run(input + input);
  std::string nul = input;
  for (size_t i = 0; i < nul.size(); i += 53) nul[i] = '\0';
  Run(nul);
}

}  // namespace

int main(int argc, char** argv) {
  size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<std::filesystem::path> paths;
    if (std::filesystem::is_directory(argv[i])) {
      for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
        paths.push_back(entry.path());
      }
    } else {
      paths.push_back(argv[i]);
    }
    for (const auto& path : paths) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      RunVariants(text.str());
      ++files;
    }
  }
  RunVariants("");
  std::printf("ran %zu corpus files and their variants\n", files);
  return files > 0 ? 0 : 1;  // a target with no corpus proves nothing
}

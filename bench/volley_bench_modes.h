// volley-bench's modes; each parses its own flags (argv[2] onwards) and prints one JSON line.
#ifndef VOLLEY_BENCH_VOLLEY_BENCH_MODES_H_
#define VOLLEY_BENCH_VOLLEY_BENCH_MODES_H_

namespace volley::bench {

extern const char kUsage[];

int RunSpoolMode(int argc, char** argv);
int RunScaleMode(int argc, char** argv);
int RunSubmissionMode(int argc, char** argv);
int RunHttpMode(int argc, char** argv);

}  // namespace volley::bench

#endif  // VOLLEY_BENCH_VOLLEY_BENCH_MODES_H_

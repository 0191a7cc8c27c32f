// main() of the real-kernel suite. Besides GoogleTest's own output it prints
//   - one "[dmkvm] <test> <ms> ms" line per test, for timing the run;
//   - a final "N passed, N failed" line (the harness and humans read it);
// and a watchdog ends the program, with the same summary, when one test runs
// longer than DMKVM_TEST_TIMEOUT seconds (default 90), so a hang in the
// kernel still reports which test it was.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace {

std::atomic<int> g_passed{0};
std::atomic<int> g_failed{0};
std::atomic<int> g_skipped{0};

class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit) : limit_(limit) {
    thread_ = std::thread([this] { Run(); });
    thread_.detach();
  }
  void Start(std::string name) {
    std::lock_guard<std::mutex> lock(mu_);
    name_ = std::move(name);
    deadline_ = std::chrono::steady_clock::now() + limit_;
    running_ = true;
    cv_.notify_all();
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (!running_) {
        cv_.wait(lock);
        continue;
      }
      if (std::chrono::steady_clock::now() >= deadline_) {
        fprintf(stdout,
                "\n[dmkvm] WATCHDOG: %s ran longer than %lld s; giving up\n",
                name_.c_str(), static_cast<long long>(limit_.count()));
        fprintf(stdout, "%d passed, %d failed\n", g_passed.load(),
                g_failed.load() + 1);
        fflush(stdout);
        _exit(3);
      }
      cv_.wait_until(lock, deadline_);
    }
  }

  std::chrono::seconds limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string name_;
  std::chrono::steady_clock::time_point deadline_;
  bool running_ = false;
  std::thread thread_;
};

class SummaryListener : public ::testing::EmptyTestEventListener {
 public:
  explicit SummaryListener(Watchdog* watchdog) : watchdog_(watchdog) {}

  void OnTestStart(const ::testing::TestInfo& info) override {
    start_ = std::chrono::steady_clock::now();
    watchdog_->Start(std::string(info.test_suite_name()) + "." + info.name());
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    watchdog_->Stop();
    const ::testing::TestResult* result = info.result();
    if (result->Skipped()) {
      ++g_skipped;
    } else if (result->Passed()) {
      ++g_passed;
    } else {
      ++g_failed;
    }
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start_)
                    .count();
    printf("[dmkvm] %s.%s %.0f ms%s\n", info.test_suite_name(), info.name(), ms,
           result->Skipped()  ? " (skipped)"
           : result->Failed() ? " FAILED"
                              : "");
    fflush(stdout);
  }
  void OnTestProgramEnd(const ::testing::UnitTest& unit) override {
    if (g_skipped > 0) printf("%d skipped\n", g_skipped.load());
    printf("%d passed, %d failed\n", g_passed.load(), g_failed.load());
    printf("[dmkvm] suite took %.1f s\n", unit.elapsed_time() / 1000.0);
    fflush(stdout);
  }

 private:
  Watchdog* watchdog_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  ::testing::InitGoogleTest(&argc, argv);
  if (geteuid() != 0) {
    fprintf(stderr, "%s: must run as root in the test guest\n", argv[0]);
    printf("0 passed, 1 failed\n");
    return 1;
  }
  if (access("/dev/mapper/control", F_OK) != 0 &&
      access("/sys/class/misc/device-mapper/dev", F_OK) != 0) {
    fprintf(stderr,
            "%s: this kernel has no device-mapper (dm-mod not loaded)\n",
            argv[0]);
    printf("0 passed, 1 failed\n");
    return 1;
  }
  long limit = 90;
  if (const char* env = getenv("DMKVM_TEST_TIMEOUT")) limit = atol(env);
  // Never destroyed: its thread may still be waiting on its condition
  // variable when main returns.
  auto* watchdog = new Watchdog(std::chrono::seconds(limit > 0 ? limit : 90));
  ::testing::UnitTest::GetInstance()->listeners().Append(
      new SummaryListener(watchdog));
  return RUN_ALL_TESTS();
}

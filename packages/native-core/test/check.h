// A minimal test harness: TEST(name) { CHECK(...); } and a main that runs
// them all and prints "N passed, N failed".
#pragma once

#include <cstdio>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Failure {
  std::string what;
};

inline std::vector<std::pair<const char*, std::function<void()>>>& registry() {
  static std::vector<std::pair<const char*, std::function<void()>>> tests;
  return tests;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { registry().emplace_back(name, std::move(fn)); }
};

template <typename A, typename B>
void equal(const A& a, const B& b, const char* expr, const char* file, int line) {
  if (a == b) return;
  std::ostringstream s;
  s << file << ":" << line << ": " << expr << ": " << a << " != " << b;
  throw Failure{s.str()};
}

inline int run_all() {
  int passed = 0, failed = 0;
  for (auto& [name, fn] : registry()) {
    try {
      fn();
      passed++;
      std::printf("ok   %s\n", name);
    } catch (const Failure& f) {
      failed++;
      std::printf("FAIL %s\n     %s\n", name, f.what.c_str());
    } catch (const std::exception& e) {
      failed++;
      std::printf("FAIL %s\n     unexpected exception: %s\n", name, e.what());
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace check

#define CHECK_CONCAT2(a, b) a##b
#define CHECK_CONCAT(a, b) CHECK_CONCAT2(a, b)
#define TEST(name)                                                                    \
  static void CHECK_CONCAT(test_, __LINE__)();                                        \
  static check::Register CHECK_CONCAT(reg_, __LINE__)(name, CHECK_CONCAT(test_, __LINE__)); \
  static void CHECK_CONCAT(test_, __LINE__)()
#define CHECK(cond) \
  if (!(cond)) throw check::Failure{std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " #cond}
#define CHECK_EQ(a, b) check::equal((a), (b), #a " == " #b, __FILE__, __LINE__)
#define CHECK_THROWS(type, expr, needle)                                                              \
  do {                                                                                                \
    try {                                                                                             \
      expr;                                                                                           \
    } catch (const type& e) {                                                                         \
      if (std::string(e.what()).find(needle) == std::string::npos)                                    \
        throw check::Failure{std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": message '" + \
                             e.what() + "' lacks '" + needle + "'"};                                  \
      break;                                                                                          \
    }                                                                                                 \
    throw check::Failure{std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " #expr           \
                         " did not throw " #type};                                                    \
  } while (0)

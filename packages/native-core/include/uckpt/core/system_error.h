// Every failure of a system call becomes one of these: the operation that
// failed and the errno text, so the JavaScript error says what to fix.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace uckpt::core {

class SystemError : public std::runtime_error {
 public:
  SystemError(const std::string& operation, int error)
      : std::runtime_error(operation + ": " + std::strerror(error) + " (errno " + std::to_string(error) + ")"),
        errno_(error) {}
  int error_number() const { return errno_; }

 private:
  int errno_;
};

// An argument or state error: the caller asked for something impossible.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws SystemError(operation, errno) when result is negative.
inline long check(long result, const char* operation) {
  if (result < 0) throw SystemError(operation, errno);
  return result;
}

}  // namespace uckpt::core

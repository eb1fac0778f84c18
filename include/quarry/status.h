// Errors as values: every fallible public function returns Status or Result<T>.
// No exception crosses the public API.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace quarry {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller passed something unusable; the message says what
    kNotFound,         // a file, model or record that does not exist
    kIOError,          // the operating system refused a read or write
    kCorruption,       // a file exists but its content is malformed
    kUnsupported,      // valid input that Quarry does not handle (yet)
    kUnavailable,      // a network resource or registry could not be reached
    kInternal,         // a bug, or a third-party library failed unexpectedly
  };

  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status Unsupported(std::string m) { return Status(Code::kUnsupported, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  // The option (a field of the options structs in these headers, e.g.
  // "max_file_bytes") that caused the error or would lift it, if any. The
  // message describes the problem in the library's terms; a front end uses
  // option() to name its own flag or request field for it.
  Status&& About(std::string option) && {
    option_ = std::move(option);
    return std::move(*this);
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& option() const { return option_; }
  // "not found: model 'x' ..." style, for logs; CLI errors print message() alone.
  std::string ToString() const;

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
  std::string option_;
};

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}   // NOLINT: must not be OK

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace quarry

// Propagate a non-OK Status from an expression returning Status.
#define QUARRY_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::quarry::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

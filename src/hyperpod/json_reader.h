// Internal to src/hyperpod: reads typed fields out of a JSON object while tracking the field
// path, so that every error names exactly where the problem is ("config.overrides",
// "presets.small.instanceGroups[0].count").
#ifndef HPD_HYPERPOD_JSON_READER_H_
#define HPD_HYPERPOD_JSON_READER_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/status.h"

namespace hpd::hyperpod::internal {

// Errors from a reader are kInvalidArgument with message "<prefix><path>: <problem>" and the
// error name given at construction. Not thread-safe; lives for one parse.
class ObjectReader {
 public:
  // `object` must outlive the reader. `path` is the object's own path ("" for the root).
  ObjectReader(const boost::json::object& object, std::string path, std::string message_prefix,
               std::string error_name);

  // "<path>.<key>" (or "<key>" at the root).
  std::string PathOf(std::string_view key) const;
  Status Error(std::string_view key, std::string_view problem) const;

  bool Has(std::string_view key) const;
  const boost::json::value* Find(std::string_view key);

  StatusOr<std::string> String(std::string_view key);
  StatusOr<std::optional<std::string>> OptionalString(std::string_view key);
  // An integer (a JSON number with no fraction) >= min.
  StatusOr<int64_t> Integer(std::string_view key, int64_t min);
  StatusOr<std::optional<bool>> OptionalBool(std::string_view key);
  StatusOr<std::vector<std::string>> StringArray(std::string_view key);
  StatusOr<const boost::json::object*> Object(std::string_view key);
  StatusOr<const boost::json::array*> Array(std::string_view key);

  // A reader for a member object, with path "<path>.<key>".
  ObjectReader Child(const boost::json::object& object, std::string_view key) const;
  ObjectReader Element(const boost::json::object& object, std::string_view key,
                       std::size_t index) const;

  // kInvalidArgument naming the first member no accessor asked for.
  Status RejectUnknown() const;

 private:
  const boost::json::object& object_;
  std::string path_;
  std::string message_prefix_;
  std::string error_name_;
  std::set<std::string, std::less<>> seen_;
};

// A JSON value shown in an error message: strings quoted, numbers and booleans as written, and
// containers by type ("an object").
std::string DescribeJson(const boost::json::value& value);

}  // namespace hpd::hyperpod::internal

#endif  // HPD_HYPERPOD_JSON_READER_H_

#include "hyperpod/json_reader.h"

#include <cmath>
#include <utility>

#include "common/json.h"

namespace hpd::hyperpod::internal {

ObjectReader::ObjectReader(const boost::json::object& object, std::string path,
                           std::string message_prefix, std::string error_name)
    : object_(object),
      path_(std::move(path)),
      message_prefix_(std::move(message_prefix)),
      error_name_(std::move(error_name)) {}

std::string ObjectReader::PathOf(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

Status ObjectReader::Error(std::string_view key, std::string_view problem) const {
  std::string where = key.empty() ? path_ : PathOf(key);
  return InvalidArgumentError(message_prefix_ + where + ": " + std::string(problem))
      .SetErrorName(error_name_);
}

bool ObjectReader::Has(std::string_view key) const { return object_.contains(key); }

const boost::json::value* ObjectReader::Find(std::string_view key) {
  seen_.emplace(key);
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &it->value();
}

StatusOr<std::string> ObjectReader::String(std::string_view key) {
  const boost::json::value* value = Find(key);
  if (value == nullptr) return Error(key, "is required");
  if (!value->is_string()) return Error(key, "must be a string, got " + DescribeJson(*value));
  return std::string(value->get_string());
}

StatusOr<std::optional<std::string>> ObjectReader::OptionalString(std::string_view key) {
  const boost::json::value* value = Find(key);
  if (value == nullptr || value->is_null()) return std::optional<std::string>();
  if (!value->is_string()) return Error(key, "must be a string, got " + DescribeJson(*value));
  return std::optional<std::string>(std::string(value->get_string()));
}

StatusOr<int64_t> ObjectReader::Integer(std::string_view key, int64_t min) {
  const boost::json::value* value = Find(key);
  if (value == nullptr) return Error(key, "is required");
  std::optional<int64_t> n;
  if (value->is_int64()) {
    n = value->get_int64();
  } else if (value->is_uint64()) {
    // Larger than int64: certainly out of any range we accept.
  } else if (value->is_double()) {
    double d = value->get_double();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e15) {
      n = static_cast<int64_t>(d);
    }
  }
  if (!n || *n < min) {
    return Error(key,
                 "must be an integer >= " + std::to_string(min) + ", got " + DescribeJson(*value));
  }
  return *n;
}

StatusOr<std::optional<bool>> ObjectReader::OptionalBool(std::string_view key) {
  const boost::json::value* value = Find(key);
  if (value == nullptr || value->is_null()) return std::optional<bool>();
  if (!value->is_bool()) return Error(key, "must be true or false, got " + DescribeJson(*value));
  return std::optional<bool>(value->get_bool());
}

StatusOr<std::vector<std::string>> ObjectReader::StringArray(std::string_view key) {
  const boost::json::value* value = Find(key);
  if (value == nullptr) return Error(key, "is required");
  if (!value->is_array()) {
    return Error(key, "must be an array of strings, got " + DescribeJson(*value));
  }
  std::vector<std::string> out;
  const boost::json::array& array = value->get_array();
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_string()) {
      return Error(std::string(key) + "[" + std::to_string(i) + "]",
                   "must be a string, got " + DescribeJson(array[i]));
    }
    out.emplace_back(array[i].get_string());
  }
  return out;
}

StatusOr<const boost::json::object*> ObjectReader::Object(std::string_view key) {
  const boost::json::value* value = Find(key);
  if (value == nullptr) return Error(key, "is required");
  if (!value->is_object()) return Error(key, "must be an object, got " + DescribeJson(*value));
  return &value->get_object();
}

StatusOr<const boost::json::array*> ObjectReader::Array(std::string_view key) {
  const boost::json::value* value = Find(key);
  if (value == nullptr) return Error(key, "is required");
  if (!value->is_array()) return Error(key, "must be an array, got " + DescribeJson(*value));
  return &value->get_array();
}

ObjectReader ObjectReader::Child(const boost::json::object& object, std::string_view key) const {
  return ObjectReader(object, PathOf(key), message_prefix_, error_name_);
}

ObjectReader ObjectReader::Element(const boost::json::object& object, std::string_view key,
                                   std::size_t index) const {
  return ObjectReader(object, PathOf(key) + "[" + std::to_string(index) + "]", message_prefix_,
                      error_name_);
}

Status ObjectReader::RejectUnknown() const {
  for (const auto& member : object_) {
    if (!seen_.contains(std::string_view(member.key()))) {
      return Error(member.key(), "is not a known field");
    }
  }
  return Status::Ok();
}

std::string DescribeJson(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::object:
      return "an object";
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::null:
      return "null";
    default:
      return SerializeJson(value);
  }
}

}  // namespace hpd::hyperpod::internal

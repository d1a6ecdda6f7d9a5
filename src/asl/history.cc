#include "asl/history.h"

#include <array>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cstring>

#include <boost/json.hpp>

#include "common/json.h"

namespace hpd::asl {
namespace {

struct TypeInfo {
  std::string_view name;
  std::string_view details_key;
};

constexpr std::array kTypeInfo = {
#define HPD_ASL_INFO_(e, name, details) TypeInfo{name, details},
    HPD_ASL_HISTORY_EVENT_TYPES(HPD_ASL_INFO_)
#undef HPD_ASL_INFO_
};
static_assert(kTypeInfo.size() == kHistoryEventTypeCount, "the API has 62 event types");

}  // namespace

std::string_view HistoryEventTypeName(HistoryEventType type) {
  return kTypeInfo[static_cast<size_t>(type)].name;
}

std::string_view HistoryEventDetailsKey(HistoryEventType type) {
  return kTypeInfo[static_cast<size_t>(type)].details_key;
}

std::optional<HistoryEventType> HistoryEventTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kTypeInfo.size(); ++i) {
    if (kTypeInfo[i].name == name) return static_cast<HistoryEventType>(i);
  }
  return std::nullopt;
}

boost::json::object HistoryEventToJson(const HistoryEvent& event) {
  boost::json::object out;
  const auto since_epoch = event.timestamp.time_since_epoch();
  out["timestamp"] = std::chrono::duration<double>(since_epoch).count();
  out["type"] = HistoryEventTypeName(event.type);
  out["id"] = event.id;
  out["previousEventId"] = event.previous_event_id;
  std::string_view key = HistoryEventDetailsKey(event.type);
  if (!key.empty()) out[key] = HistoryEventDetails(event);
  return out;
}

boost::json::object HistoryEventDetails(const HistoryEvent& event) {
  if (event.details.empty()) return {};
  // Raw members are written by the interpreter as valid JSON; a parse failure would be a
  // programmer error.
  boost::json::value parsed = boost::json::parse(event.details.ToJson());
  return parsed.is_object() ? std::move(parsed.as_object()) : boost::json::object();
}

EventDetails& EventDetails::Add(std::string_view key, int64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  return Member(key, kRaw, std::string_view(digits, static_cast<size_t>(result.ptr - digits)));
}

EventDetails& EventDetails::Member(std::string_view key, char kind, std::string_view value) {
  assert(key.size() <= 255);
  const auto length = static_cast<uint32_t>(value.size());
  const size_t at = tape_.size();
  const size_t size = at + 1 + key.size() + 1 + sizeof(length) + value.size();
  // Room for the few short members that usually follow the first, so that an event costs one
  // allocation rather than one per growth step.
  if (size > tape_.capacity()) tape_.reserve(at == 0 ? size + 96 : 2 * size);
  // The header (key length, key, kind, value length) built on the stack, then two appends.
  char header[1 + 255 + 1 + sizeof(length)];
  char* p = header;
  *p++ = static_cast<char>(key.size());
  std::memcpy(p, key.data(), key.size());
  p += key.size();
  *p++ = kind;
  std::memcpy(p, &length, sizeof(length));
  p += sizeof(length);
  tape_.append(header, static_cast<size_t>(p - header));
  tape_.append(value);
  return *this;
}

std::optional<std::string_view> EventDetails::Find(std::string_view key) const {
  size_t i = 0;
  while (i < tape_.size()) {
    const auto key_length = static_cast<unsigned char>(tape_[i++]);
    const std::string_view member(tape_.data() + i, key_length);
    i += key_length + 1;  // the key, then the kind
    uint32_t length = 0;
    std::memcpy(&length, tape_.data() + i, sizeof(length));
    i += sizeof(length);
    if (member == key) return std::string_view(tape_.data() + i, length);
    i += length;
  }
  return std::nullopt;
}

std::string EventDetails::ToJson() const {
  std::string out = "{";
  size_t i = 0;
  while (i < tape_.size()) {
    const auto key_length = static_cast<unsigned char>(tape_[i++]);
    const std::string_view key(tape_.data() + i, key_length);
    i += key_length;
    const char kind = tape_[i++];
    uint32_t length = 0;
    std::memcpy(&length, tape_.data() + i, sizeof(length));
    i += sizeof(length);
    const std::string_view value(tape_.data() + i, length);
    i += length;
    if (out.size() > 1) out += ',';
    AppendJsonString(key, &out);
    out += ':';
    if (kind == kString) {
      AppendJsonString(value, &out);
    } else {
      out += value;
    }
  }
  out += '}';
  return out;
}

}  // namespace hpd::asl

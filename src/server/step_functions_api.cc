#include "server/step_functions_api.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "asl/diagnostics.h"
#include "asl/history.h"
#include "asl/interpreter.h"
#include "asl/parser.h"
#include "common/json.h"
#include "common/random.h"
#include "common/uuid.h"
#include "server/aws_json_endpoint.h"

namespace hpd::server {
namespace json = boost::json;
namespace {

constexpr size_t kDefaultPageSize = 100;
constexpr size_t kMaxPageSize = 1000;

Status ValidationError(std::string message) {
  return Named(InvalidArgumentError("1 validation error detected: " + std::move(message)),
               "ValidationException");
}

Status SerializationError(std::string message) {
  return Named(InvalidArgumentError(std::move(message)), "SerializationException");
}

Status InvalidArn(std::string_view detail) {
  return Named(InvalidArgumentError("Invalid Arn: '" + std::string(detail) + "'"), "InvalidArn");
}

Status StateMachineDoesNotExist(std::string_view arn) {
  return Named(NotFoundError("State Machine Does Not Exist: '" + std::string(arn) + "'"),
               "StateMachineDoesNotExist");
}

Status ExecutionDoesNotExist(std::string_view arn) {
  return Named(NotFoundError("Execution Does Not Exist: '" + std::string(arn) + "'"),
               "ExecutionDoesNotExist");
}

Status TypeNotSupported() {
  return Named(
      FailedPreconditionError("This operation is not supported by this type of state machine"),
      "StateMachineTypeNotSupported");
}

Status InvalidToken(std::string_view token) {
  return Named(InvalidArgumentError("Invalid Token: '" + std::string(token) + "'"), "InvalidToken");
}

double EpochSeconds(WallTime time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

// The request body's members, read with AWS's checks: a wrong JSON type is a
// SerializationException, a missing required member or a violated length a ValidationException.
class Request {
 public:
  static StatusOr<Request> Parse(const std::string& body) {
    StatusOr<json::value> value = ParseJson(body.empty() ? std::string_view("{}") : body);
    if (!value.ok() || !value->is_object()) {
      return SerializationError("the request body is not a JSON object");
    }
    return Request(std::move(value->as_object()));
  }

  // A string member; nullopt when absent (or null).
  StatusOr<std::optional<std::string>> String(std::string_view key, size_t min, size_t max,
                                              bool required) const {
    const json::value* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) {
        return ValidationError("Value null at '" + std::string(key) +
                               "' failed to satisfy constraint: Member must not be null");
      }
      return std::optional<std::string>();
    }
    if (!v->is_string()) {
      return SerializationError("Unexpected " + JsonTypeName(*v) + " for '" + std::string(key) +
                                "': expected a string");
    }
    std::string text(v->as_string());
    if (text.size() < min) {
      return ValidationError("Value '" + text + "' at '" + std::string(key) +
                             "' failed to satisfy constraint: Member must have length greater "
                             "than or equal to " +
                             std::to_string(min));
    }
    if (text.size() > max) {
      const bool show = text.size() <= 256;
      return ValidationError((show ? "Value '" + text + "' at '" : "Value at '") +
                             std::string(key) +
                             "' failed to satisfy constraint: Member must have length less than "
                             "or equal to " +
                             std::to_string(max));
    }
    return std::optional<std::string>(std::move(text));
  }

  StatusOr<std::optional<bool>> Bool(std::string_view key) const {
    const json::value* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) return std::optional<bool>();
    if (!v->is_bool()) {
      return SerializationError("Unexpected " + JsonTypeName(*v) + " for '" + std::string(key) +
                                "': expected a boolean");
    }
    return std::optional<bool>(v->as_bool());
  }

  StatusOr<std::optional<int64_t>> Int(std::string_view key, int64_t min, int64_t max) const {
    const json::value* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) return std::optional<int64_t>();
    if (!v->is_int64() && !v->is_uint64()) {
      return SerializationError("Unexpected " + JsonTypeName(*v) + " for '" + std::string(key) +
                                "': expected an integer");
    }
    const int64_t n = v->is_int64() ? v->as_int64() : static_cast<int64_t>(v->as_uint64());
    if (n < min || n > max) {
      return ValidationError("Value '" + std::to_string(n) + "' at '" + std::string(key) +
                             "' failed to satisfy constraint: Member must have value " +
                             (n < min ? "greater than or equal to " + std::to_string(min)
                                      : "less than or equal to " + std::to_string(max)));
    }
    return std::optional<int64_t>(n);
  }

  // An object member kept as compact JSON text ("" when absent).
  StatusOr<std::string> Object(std::string_view key) const {
    const json::value* v = object_.if_contains(key);
    if (v == nullptr || v->is_null()) return std::string();
    if (!v->is_object()) {
      return SerializationError("Unexpected " + JsonTypeName(*v) + " for '" + std::string(key) +
                                "': expected an object");
    }
    return SerializeJson(*v);
  }

  StatusOr<std::optional<std::string>> Enum(std::string_view key,
                                            std::initializer_list<std::string_view> values) const {
    StatusOr<std::optional<std::string>> text = String(key, 0, 1024, false);
    if (!text.ok() || !text->has_value()) return text;
    if (std::find(values.begin(), values.end(), **text) == values.end()) {
      std::string set;
      for (std::string_view value : values) {
        if (!set.empty()) set += ", ";
        set += value;
      }
      return ValidationError("Value '" + **text + "' at '" + std::string(key) +
                             "' failed to satisfy constraint: Member must satisfy enum value "
                             "set: [" +
                             set + "]");
    }
    return text;
  }

 private:
  explicit Request(json::object object) : object_(std::move(object)) {}
  json::object object_;
};

// Step Functions' naming rule for state machines and executions: 1-80 characters, none of
// whitespace, brackets < > { } [ ], wildcards ? *, the characters " # % \ ^ | ~ ` $ & , ; : /,
// or control characters (U+0000-001F, U+007F-009F).
Status CheckName(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool control =
        c < 0x20 || c == 0x7f ||
        (c == 0xc2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(name[i + 1]) <= 0x9f);
    if (control || std::string_view(" \t\n\r<>{}[]?*\"#%\\^|~`$&,;:/").find(static_cast<char>(c)) !=
                       std::string_view::npos) {
      return Named(InvalidArgumentError("Invalid Name: '" + std::string(name) + "'"),
                   "InvalidName");
    }
  }
  return Status::Ok();
}

struct Arn {
  std::string partition, region, account, resource_type;
  std::vector<std::string> parts;  // after the resource type
};

// arn:PARTITION:states:REGION:ACCOUNT:TYPE:PART[:PART...]
StatusOr<Arn> ParseStatesArn(std::string_view text, std::string_view expected_type) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t colon = text.find(':', start);
    fields.emplace_back(text.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (fields.size() < 7 || fields[0] != "arn" || fields[2] != "states" || fields[1].empty() ||
      fields[3].empty() || fields[4].empty()) {
    return InvalidArn("Invalid ARN prefix: " + std::string(text));
  }
  if (fields[5] != expected_type) {
    return InvalidArn("Resource type not valid in this context: " + fields[5]);
  }
  Arn arn{fields[1], fields[3], fields[4], fields[5], {}};
  arn.parts.assign(fields.begin() + 6, fields.end());
  for (const std::string& part : arn.parts) {
    if (part.empty()) return InvalidArn(text);
  }
  return arn;
}

// A state machine ARN: arn:...:stateMachine:NAME (versions and aliases are not supported yet).
Status CheckStateMachineArn(std::string_view text) {
  StatusOr<Arn> arn = ParseStatesArn(text, "stateMachine");
  if (!arn.ok()) return arn.status();
  if (arn->parts.size() != 1) return InvalidArn(text);
  return Status::Ok();
}

// A STANDARD execution's ARN: arn:...:execution:SM:NAME. An EXPRESS execution's
// (arn:...:express:SM:NAME:ID) is refused as AWS refuses it where Express executions are not
// supported (they keep no history): "Resource type not valid in this context: express".
Status CheckExecutionArn(std::string_view text) {
  StatusOr<Arn> arn = ParseStatesArn(text, "execution");
  if (!arn.ok()) return arn.status();
  if (arn->parts.size() != 2) return InvalidArn(text);
  return Status::Ok();
}

std::string DefinitionErrorText(const std::vector<asl::Diagnostic>& diagnostics) {
  std::string text;
  for (const asl::Diagnostic& d : diagnostics) {
    if (d.severity != asl::Severity::kError) continue;
    if (!text.empty()) text += ", ";
    text += d.code + ": " + d.message;
    if (!d.location.empty()) text += " at " + d.location;
  }
  return text;
}

// Compiles a definition a client submitted: InvalidDefinition with every error.
StatusOr<std::shared_ptr<const asl::StateMachine>> CheckDefinition(const std::string& definition) {
  asl::ParseResult parsed = asl::ParseDefinition(definition);
  if (!parsed.ok()) {
    return Named(InvalidArgumentError("Invalid State Machine Definition: '" +
                                      DefinitionErrorText(parsed.diagnostics) + "'"),
                 "InvalidDefinition");
  }
  return parsed.machine;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

json::object LoggingOrDefault(const std::string& text) {
  if (!text.empty()) {
    StatusOr<json::value> value = ParseJson(text);
    if (value.ok() && value->is_object()) return value->as_object();
  }
  return json::object{{"level", "OFF"}, {"includeExecutionData", false}};
}

json::object TracingOrDefault(const std::string& text) {
  if (!text.empty()) {
    StatusOr<json::value> value = ParseJson(text);
    if (value.ok() && value->is_object()) return value->as_object();
  }
  return json::object{{"enabled", false}};
}

}  // namespace

class StepFunctionsApi::Impl {
 public:
  Impl(store::Journal& journal, engine::Runtime& runtime, const Clock& clock,
       StepFunctionsApiOptions options)
      : journal_(journal), runtime_(runtime), clock_(clock), options_(std::move(options)) {}

  void Call(std::string_view action, std::string body, Reply reply) {
    using Handler = void (Impl::*)(const Request&, Reply);
    static const std::pair<std::string_view, Handler> kActions[] = {
        {"CreateStateMachine", &Impl::CreateStateMachine},
        {"DescribeStateMachine", &Impl::DescribeStateMachine},
        {"DescribeStateMachineForExecution", &Impl::DescribeStateMachineForExecution},
        {"UpdateStateMachine", &Impl::UpdateStateMachine},
        {"DeleteStateMachine", &Impl::DeleteStateMachine},
        {"ListStateMachines", &Impl::ListStateMachines},
        {"ValidateStateMachineDefinition", &Impl::ValidateStateMachineDefinition},
        {"StartExecution", &Impl::StartExecution},
        {"StartSyncExecution", &Impl::StartSyncExecution},
        {"DescribeExecution", &Impl::DescribeExecution},
        {"StopExecution", &Impl::StopExecution},
        {"ListExecutions", &Impl::ListExecutions},
        {"GetExecutionHistory", &Impl::GetExecutionHistory},
        {"RedriveExecution", &Impl::RedriveExecution},
    };
    for (const auto& [name, handler] : kActions) {
      if (name != action) continue;
      StatusOr<Request> request = Request::Parse(body);
      if (!request.ok()) return reply(request.status());
      return (this->*handler)(*request, std::move(reply));
    }
    reply(UnknownOperation(action));
  }

 private:
  static void Answer(const Reply& reply, const json::object& response) {
    reply(SerializeJson(response));
  }

  std::string Prefix() const {
    return "arn:" + options_.partition + ":states:" + options_.region + ":" + options_.account_id +
           ":";
  }

  WallTime Now() const { return std::chrono::floor<std::chrono::milliseconds>(clock_.WallNow()); }

  StatusOr<store::StateMachineRow> FindMachine(const std::string& arn) const {
    HPD_ASSIGN_OR_RETURN(
        std::optional<store::StateMachineRow> row,
        journal_.ReadValue([&](store::JournalReader& r) { return r.GetStateMachine(arn); }));
    if (!row) return StateMachineDoesNotExist(arn);
    return std::move(*row);
  }

  StatusOr<store::ExecutionRow> FindExecution(const std::string& arn) const {
    HPD_ASSIGN_OR_RETURN(
        std::optional<store::ExecutionRow> row,
        journal_.ReadValue([&](store::JournalReader& r) { return r.GetExecution(arn); }));
    if (!row) return ExecutionDoesNotExist(arn);
    return std::move(*row);
  }

  // ---- State machines ----

  void CreateStateMachine(const Request& request, Reply reply) {
    StatusOr<store::StateMachineRow> row = ReadCreate(request);
    if (!row.ok()) return reply(row.status());
    // The creation date answered: the stored one when the request repeats an earlier one.
    auto created = std::make_shared<WallTime>(row->created);
    journal_.Submit(
        [row = *row, created](store::JournalWriter& writer) -> Status {
          StatusOr<std::optional<store::StateMachineRow>> existing =
              writer.FindStateMachine(row.arn);
          if (!existing.ok()) return existing.status();
          if (*existing) {
            const store::StateMachineRow& old = **existing;
            // AWS: CreateStateMachine is idempotent when name, definition, type, logging and
            // tracing configuration match (roleArn and tags are not compared).
            if (old.definition == row.definition && old.type == row.type &&
                old.logging_configuration == row.logging_configuration &&
                old.tracing_configuration == row.tracing_configuration) {
              *created = old.created;
              return Status::Ok();
            }
            return Named(AlreadyExistsError("State Machine Already Exists: '" + row.arn + "'"),
                         "StateMachineAlreadyExists");
          }
          StatusOr<int64_t> id = writer.InsertStateMachine(row);
          if (!id.ok()) return id.status();
          return writer
              .AddRevision(store::RevisionRow{0, *id, row.revision_id, row.definition, row.role_arn,
                                              row.created})
              .status();
        },
        [arn = row->arn, created, reply = std::move(reply)](Status status) {
          if (!status.ok()) return reply(status);
          Answer(reply,
                 json::object{{"stateMachineArn", arn}, {"creationDate", EpochSeconds(*created)}});
        });
  }

  StatusOr<store::StateMachineRow> ReadCreate(const Request& request) {
    HPD_ASSIGN_OR_RETURN(auto name, request.String("name", 1, 80, true));
    HPD_ASSIGN_OR_RETURN(auto definition,
                         request.String("definition", 1, asl::kMaxDefinitionBytes, true));
    HPD_ASSIGN_OR_RETURN(auto role_arn, request.String("roleArn", 1, 256, true));
    HPD_ASSIGN_OR_RETURN(auto type, request.Enum("type", {"STANDARD", "EXPRESS"}));
    HPD_ASSIGN_OR_RETURN(auto logging, request.Object("loggingConfiguration"));
    HPD_ASSIGN_OR_RETURN(auto tracing, request.Object("tracingConfiguration"));
    HPD_RETURN_IF_ERROR(CheckName(*name));
    HPD_RETURN_IF_ERROR(CheckRoleArn(*role_arn));
    HPD_ASSIGN_OR_RETURN(auto machine, CheckDefinition(*definition));
    (void)machine;
    store::StateMachineRow row;
    row.arn = Prefix() + "stateMachine:" + *name;
    row.name = std::move(*name);
    row.type = type.value_or("STANDARD");
    row.created = Now();
    row.logging_configuration = std::move(logging);
    row.tracing_configuration = std::move(tracing);
    row.revision_id = NewUuidV4(random_);
    row.definition = std::move(*definition);
    row.role_arn = std::move(*role_arn);
    row.revision_created = row.created;
    return row;
  }

  static Status CheckRoleArn(std::string_view arn) {
    // arn:PARTITION:iam::ACCOUNT:role/NAME
    if (arn.substr(0, 4) != "arn:" || arn.find(":iam::") == std::string_view::npos ||
        arn.find(":role/") == std::string_view::npos) {
      return InvalidArn(arn);
    }
    return Status::Ok();
  }

  void DescribeStateMachine(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("stateMachineArn", 1, 256, true);
    if (!arn.ok()) return reply(arn.status());
    if (Status status = CheckStateMachineArn(**arn); !status.ok()) return reply(status);
    StatusOr<store::StateMachineRow> row = FindMachine(**arn);
    if (!row.ok()) return reply(row.status());
    json::object response{{"stateMachineArn", row->arn},
                          {"name", row->name},
                          {"status", "ACTIVE"},
                          {"definition", row->definition},
                          {"roleArn", row->role_arn},
                          {"type", row->type},
                          {"creationDate", EpochSeconds(row->created)},
                          {"loggingConfiguration", LoggingOrDefault(row->logging_configuration)},
                          {"tracingConfiguration", TracingOrDefault(row->tracing_configuration)}};
    if (row->revision_created != row->created) response["revisionId"] = row->revision_id;
    Answer(reply, response);
  }

  void DescribeStateMachineForExecution(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("executionArn", 1, 256, true);
    if (!arn.ok()) return reply(arn.status());
    if (Status status = CheckExecutionArn(**arn); !status.ok()) return reply(status);
    StatusOr<store::ExecutionRow> execution = FindExecution(**arn);
    if (!execution.ok()) return reply(execution.status());
    std::optional<store::RevisionRow> revision;
    std::optional<store::StateMachineRow> machine;
    Status status = journal_.Read([&](store::JournalReader& reader) -> Status {
      StatusOr<std::optional<store::RevisionRow>> found = reader.GetRevision(execution->revision);
      if (!found.ok()) return found.status();
      revision = std::move(*found);
      StatusOr<std::optional<store::StateMachineRow>> m =
          reader.GetStateMachineById(execution->state_machine_id);
      if (!m.ok()) return m.status();
      machine = std::move(*m);
      return Status::Ok();
    });
    if (!status.ok()) return reply(status);
    if (!revision) return reply(ExecutionDoesNotExist(**arn));
    const std::string name =
        execution->state_machine_arn.substr(execution->state_machine_arn.rfind(':') + 1);
    json::object response{
        {"stateMachineArn", execution->state_machine_arn},
        {"name", name},
        {"definition", revision->definition},
        {"roleArn", revision->role_arn},
        {"updateDate", EpochSeconds(revision->created)},
        {"loggingConfiguration", LoggingOrDefault(machine ? machine->logging_configuration : "")},
        {"tracingConfiguration", TracingOrDefault(machine ? machine->tracing_configuration : "")}};
    if (machine && revision->created != machine->created) {
      response["revisionId"] = revision->revision_id;
    }
    Answer(reply, response);
  }

  void UpdateStateMachine(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("stateMachineArn", 1, 256, true);
    if (!arn.ok()) return reply(arn.status());
    StatusOr<std::optional<std::string>> definition =
        request.String("definition", 1, asl::kMaxDefinitionBytes, false);
    if (!definition.ok()) return reply(definition.status());
    StatusOr<std::optional<std::string>> role_arn = request.String("roleArn", 1, 256, false);
    if (!role_arn.ok()) return reply(role_arn.status());
    StatusOr<std::string> logging = request.Object("loggingConfiguration");
    if (!logging.ok()) return reply(logging.status());
    StatusOr<std::string> tracing = request.Object("tracingConfiguration");
    if (!tracing.ok()) return reply(tracing.status());
    if (Status status = CheckStateMachineArn(**arn); !status.ok()) return reply(status);
    if (!*definition && !*role_arn && logging->empty() && tracing->empty()) {
      return reply(Named(InvalidArgumentError("Either the definition, the role ARN, the "
                                              "LoggingConfiguration, or the TracingConfiguration "
                                              "must be specified"),
                         "MissingRequiredParameter"));
    }
    if (*role_arn) {
      if (Status status = CheckRoleArn(**role_arn); !status.ok()) return reply(status);
    }
    if (*definition) {
      StatusOr<std::shared_ptr<const asl::StateMachine>> machine = CheckDefinition(**definition);
      if (!machine.ok()) return reply(machine.status());
    }
    const WallTime now = Now();
    auto revision_id = std::make_shared<std::string>(NewUuidV4(random_));
    journal_.Submit(
        [arn = **arn, definition = *definition, role_arn = *role_arn, logging = *logging,
         tracing = *tracing, now, revision_id](store::JournalWriter& writer) -> Status {
          StatusOr<std::optional<store::StateMachineRow>> found = writer.FindStateMachine(arn);
          if (!found.ok()) return found.status();
          if (!*found) return StateMachineDoesNotExist(arn);
          const store::StateMachineRow& old = **found;
          if (definition || role_arn) {
            StatusOr<int64_t> added = writer.AddRevision(
                store::RevisionRow{0, old.id, *revision_id, definition.value_or(old.definition),
                                   role_arn.value_or(old.role_arn), now});
            if (!added.ok()) return added.status();
          } else {
            *revision_id = old.revision_id;
          }
          if (!logging.empty() || !tracing.empty()) {
            return writer.UpdateStateMachineDetails(
                old.id, logging.empty() ? old.logging_configuration : logging,
                tracing.empty() ? old.tracing_configuration : tracing);
          }
          return Status::Ok();
        },
        [now, revision_id, reply = std::move(reply)](Status status) {
          if (!status.ok()) return reply(status);
          Answer(reply,
                 json::object{{"updateDate", EpochSeconds(now)}, {"revisionId", *revision_id}});
        });
  }

  void DeleteStateMachine(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("stateMachineArn", 1, 256, true);
    if (!arn.ok()) return reply(arn.status());
    if (Status status = CheckStateMachineArn(**arn); !status.ok()) return reply(status);
    journal_.Submit(
        [arn = **arn](store::JournalWriter& writer) -> Status {
          StatusOr<std::optional<store::StateMachineRow>> found = writer.FindStateMachine(arn);
          if (!found.ok()) return found.status();
          if (!*found) return Status::Ok();  // deleting what is gone succeeds
          return writer.DeleteStateMachine((*found)->id);
        },
        [reply = std::move(reply)](Status status) {
          if (!status.ok()) return reply(status);
          Answer(reply, json::object{});
        });
  }

  void ListStateMachines(const Request& request, Reply reply) {
    StatusOr<std::optional<int64_t>> max = request.Int("maxResults", 0, kMaxPageSize);
    if (!max.ok()) return reply(max.status());
    StatusOr<std::optional<std::string>> token = request.String("nextToken", 1, 1024, false);
    if (!token.ok()) return reply(token.status());
    std::optional<std::string> after;
    if (*token) {
      if ((*token)->rfind("m.", 0) != 0) return reply(InvalidToken(**token));
      after = (*token)->substr(2);
    }
    const size_t limit = PageSize(*max);
    std::vector<store::StateMachineRow> rows;
    Status status = journal_.Read([&](store::JournalReader& reader) -> Status {
      StatusOr<std::vector<store::StateMachineRow>> found = reader.ListStateMachines(
          after ? std::optional<std::string_view>(*after) : std::nullopt, limit + 1);
      if (!found.ok()) return found.status();
      rows = std::move(*found);
      return Status::Ok();
    });
    if (!status.ok()) return reply(status);
    json::object response;
    json::array& machines = response["stateMachines"].emplace_array();
    for (size_t i = 0; i < rows.size() && i < limit; ++i) {
      machines.push_back(json::object{{"stateMachineArn", rows[i].arn},
                                      {"name", rows[i].name},
                                      {"type", rows[i].type},
                                      {"creationDate", EpochSeconds(rows[i].created)}});
    }
    if (rows.size() > limit) response["nextToken"] = "m." + rows[limit - 1].name;
    Answer(reply, response);
  }

  static size_t PageSize(const std::optional<int64_t>& max) {
    return max && *max > 0 ? static_cast<size_t>(*max) : kDefaultPageSize;
  }

  void ValidateStateMachineDefinition(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> definition =
        request.String("definition", 1, asl::kMaxDefinitionBytes, true);
    if (!definition.ok()) return reply(definition.status());
    StatusOr<std::optional<std::string>> type = request.Enum("type", {"STANDARD", "EXPRESS"});
    if (!type.ok()) return reply(type.status());
    StatusOr<std::optional<std::string>> severity = request.Enum("severity", {"ERROR", "WARNING"});
    if (!severity.ok()) return reply(severity.status());
    StatusOr<std::optional<int64_t>> max = request.Int("maxResults", 0, 100);
    if (!max.ok()) return reply(max.status());
    const bool warnings = severity->value_or("ERROR") == "WARNING";
    const size_t limit = max->value_or(0) > 0 ? static_cast<size_t>(**max) : 100;
    asl::ParseResult parsed = asl::ParseDefinition(**definition);
    json::array diagnostics;
    bool truncated = false;
    for (const asl::Diagnostic& d : parsed.diagnostics) {
      if (d.severity == asl::Severity::kWarning && !warnings) continue;
      if (diagnostics.size() == limit) {
        truncated = true;
        break;
      }
      json::object item{
          {"severity", asl::SeverityName(d.severity)}, {"code", d.code}, {"message", d.message}};
      if (!d.location.empty()) item["location"] = d.location;
      diagnostics.push_back(std::move(item));
    }
    Answer(reply, json::object{{"result", parsed.ok() ? "OK" : "FAIL"},
                               {"diagnostics", std::move(diagnostics)},
                               {"truncated", truncated}});
  }

  // ---- Executions ----

  // What StartExecution and StartSyncExecution share.
  StatusOr<engine::StartRequest> ReadStart(const Request& request) {
    HPD_ASSIGN_OR_RETURN(auto arn, request.String("stateMachineArn", 1, 256, true));
    HPD_ASSIGN_OR_RETURN(auto name, request.String("name", 1, 80, false));
    HPD_ASSIGN_OR_RETURN(auto input, request.String("input", 0, asl::kMaxPayloadBytes, false));
    HPD_ASSIGN_OR_RETURN(auto trace_header, request.String("traceHeader", 0, 256, false));
    HPD_RETURN_IF_ERROR(CheckStateMachineArn(*arn));
    if (name) HPD_RETURN_IF_ERROR(CheckName(*name));
    std::string input_text = input.value_or("{}");
    if (StatusOr<json::value> parsed = ParseJson(input_text); !parsed.ok()) {
      return Named(InvalidArgumentError("Invalid State Machine Execution Input: '" +
                                        std::string(parsed.status().message()) + "'"),
                   "InvalidExecutionInput");
    }
    HPD_ASSIGN_OR_RETURN(auto row, FindMachine(*arn));
    HPD_ASSIGN_OR_RETURN(auto compiled, runtime_.Compile(row));
    engine::StartRequest start;
    const std::string execution_name = name.value_or(NewUuidV4(random_));
    start.execution_arn =
        row.type == "EXPRESS"
            ? Prefix() + "express:" + row.name + ":" + execution_name + ":" + NewUuidV4(random_)
            : Prefix() + "execution:" + row.name + ":" + execution_name;
    start.name = execution_name;
    start.input = std::move(input_text);
    start.trace_header = trace_header.value_or("");
    start.machine = std::move(compiled);
    return start;
  }

  void StartExecution(const Request& request, Reply reply) {
    StatusOr<engine::StartRequest> start = ReadStart(request);
    if (!start.ok()) return reply(start.status());
    runtime_.Start(std::move(*start),
                   [reply = std::move(reply)](StatusOr<engine::StartResult> result) {
                     if (!result.ok()) return reply(result.status());
                     Answer(reply, json::object{{"executionArn", result->execution_arn},
                                                {"startDate", EpochSeconds(result->start)}});
                   });
  }

  void StartSyncExecution(const Request& request, Reply reply) {
    StatusOr<engine::StartRequest> start = ReadStart(request);
    if (!start.ok()) return reply(start.status());
    if (start->machine.row->type != "EXPRESS") {
      return reply(TypeNotSupported());
    }
    start->durable = false;  // synchronous Express: at most once, in memory only
    auto info = std::make_shared<std::tuple<std::string, std::string, std::string, std::string>>(
        start->execution_arn, start->machine.row->arn, start->name, start->input);
    auto shared_reply = std::make_shared<Reply>(std::move(reply));
    runtime_.Start(
        std::move(*start),
        [shared_reply](StatusOr<engine::StartResult> result) {
          if (!result.ok()) (*shared_reply)(result.status());
        },
        [info, shared_reply](const engine::ExecutionEnd& end) {
          const auto& [arn, machine_arn, name, input] = *info;
          json::object response{
              {"executionArn", arn},
              {"stateMachineArn", machine_arn},
              {"name", name},
              {"startDate", EpochSeconds(end.start)},
              {"stopDate", EpochSeconds(end.stop)},
              {"status", end.status},
              {"input", input},
              {"inputDetails", json::object{{"included", true}}},
              {"billingDetails",
               json::object{{"billedMemoryUsedInMB", 64}, {"billedDurationInMilliseconds", 100}}}};
          if (end.output) {
            response["output"] = *end.output;
            response["outputDetails"] = json::object{{"included", true}};
          }
          if (end.error) response["error"] = *end.error;
          if (end.cause) response["cause"] = *end.cause;
          Answer(*shared_reply, response);
        });
  }

  void DescribeExecution(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("executionArn", 1, 256, true);
    if (!arn.ok()) return reply(arn.status());
    if (Status status = CheckExecutionArn(**arn); !status.ok()) return reply(status);
    StatusOr<store::ExecutionRow> row = FindExecution(**arn);
    if (!row.ok()) return reply(row.status());
    json::object response{{"executionArn", row->arn},
                          {"stateMachineArn", row->state_machine_arn},
                          {"name", row->name},
                          {"status", row->status},
                          {"startDate", EpochSeconds(row->start)},
                          {"input", row->input},
                          {"inputDetails", json::object{{"included", true}}}};
    if (row->stop) response["stopDate"] = EpochSeconds(*row->stop);
    if (row->output) {
      response["output"] = *row->output;
      response["outputDetails"] = json::object{{"included", true}};
    }
    if (row->error) response["error"] = *row->error;
    if (row->cause) response["cause"] = *row->cause;
    if (!row->trace_header.empty()) response["traceHeader"] = row->trace_header;
    response["redriveCount"] = row->redrive_count;
    if (row->redrive) response["redriveDate"] = EpochSeconds(*row->redrive);
    if (std::optional<std::string> reason = engine::NotRedrivableReason(*row, Now())) {
      response["redriveStatus"] = "NOT_REDRIVABLE";
      response["redriveStatusReason"] = *reason;
    } else {
      response["redriveStatus"] = "REDRIVABLE";
    }
    Answer(reply, response);
  }

  void RedriveExecution(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("executionArn", 1, 2000, true);
    if (!arn.ok()) return reply(arn.status());
    // clientToken (SDKs send one): a request repeated with the same token within 15 minutes
    // gets the first one's answer instead of a second redrive, as AWS does.
    StatusOr<std::optional<std::string>> token = request.String("clientToken", 1, 64, false);
    if (!token.ok()) return reply(token.status());
    if (Status status = CheckExecutionArn(**arn); !status.ok()) return reply(status);
    std::optional<std::string> key;
    if (*token) {
      key = **arn + "\n" + **token;
      if (std::optional<WallTime> earlier = RedriveForToken(*key)) {
        return Answer(reply, json::object{{"redriveDate", EpochSeconds(*earlier)}});
      }
    }
    runtime_.Redrive(**arn, [this, key, reply = std::move(reply)](StatusOr<WallTime> redriven) {
      if (!redriven.ok()) return reply(redriven.status());
      if (key) RememberRedrive(*key, *redriven);
      Answer(reply, json::object{{"redriveDate", EpochSeconds(*redriven)}});
    });
  }

  void StopExecution(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("executionArn", 1, 256, true);
    if (!arn.ok()) return reply(arn.status());
    StatusOr<std::optional<std::string>> error = request.String("error", 0, 256, false);
    if (!error.ok()) return reply(error.status());
    StatusOr<std::optional<std::string>> cause = request.String("cause", 0, 32768, false);
    if (!cause.ok()) return reply(cause.status());
    if (Status status = CheckExecutionArn(**arn); !status.ok()) return reply(status);
    runtime_.Stop(**arn, error->value_or(""), cause->value_or(""),
                  [this, arn = **arn, reply = std::move(reply)](StatusOr<WallTime> stopped) {
                    if (stopped.ok()) {
                      return Answer(reply, json::object{{"stopDate", EpochSeconds(*stopped)}});
                    }
                    if (stopped.status().code() != StatusCode::kNotFound) {
                      return reply(stopped.status());
                    }
                    // Not running here: unknown, or already ended (then its stop date stands).
                    StatusOr<store::ExecutionRow> row = FindExecution(arn);
                    if (!row.ok()) return reply(row.status());
                    if (!row->stop) return reply(ExecutionDoesNotExist(arn));
                    Answer(reply, json::object{{"stopDate", EpochSeconds(*row->stop)}});
                  });
  }

  void ListExecutions(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("stateMachineArn", 1, 256, false);
    if (!arn.ok()) return reply(arn.status());
    StatusOr<std::optional<std::string>> status_filter =
        request.Enum("statusFilter",
                     {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"});
    if (!status_filter.ok()) return reply(status_filter.status());
    StatusOr<std::optional<int64_t>> max = request.Int("maxResults", 0, kMaxPageSize);
    if (!max.ok()) return reply(max.status());
    StatusOr<std::optional<std::string>> token = request.String("nextToken", 1, 3096, false);
    if (!token.ok()) return reply(token.status());
    if (!*arn) {
      return reply(ValidationError(
          "Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null"));
    }
    if (Status status = CheckStateMachineArn(**arn); !status.ok()) return reply(status);
    StatusOr<store::StateMachineRow> machine = FindMachine(**arn);
    if (!machine.ok()) return reply(machine.status());
    if (machine->type == "EXPRESS") return reply(TypeNotSupported());
    store::ExecutionQuery query;
    query.state_machine_id = machine->id;
    query.status = *status_filter;
    const size_t limit = PageSize(*max);
    query.limit = limit + 1;
    if (*token) {
      // "e.<start nanoseconds>.<id>"
      const std::string& text = **token;
      const size_t dot = text.find('.', 2);
      std::optional<int64_t> start, id;
      if (text.rfind("e.", 0) == 0 && dot != std::string::npos) {
        start = ParseInt(std::string_view(text).substr(2, dot - 2));
        id = ParseInt(std::string_view(text).substr(dot + 1));
      }
      if (!start || !id) return reply(InvalidToken(text));
      query.after = std::make_pair(*start, *id);
    }
    std::vector<store::ExecutionRow> rows;
    Status status = journal_.Read([&](store::JournalReader& reader) -> Status {
      StatusOr<std::vector<store::ExecutionRow>> found = reader.ListExecutions(query);
      if (!found.ok()) return found.status();
      rows = std::move(*found);
      return Status::Ok();
    });
    if (!status.ok()) return reply(status);
    json::object response;
    json::array& executions = response["executions"].emplace_array();
    for (size_t i = 0; i < rows.size() && i < limit; ++i) {
      const store::ExecutionRow& row = rows[i];
      json::object item{{"executionArn", row.arn},
                        {"stateMachineArn", row.state_machine_arn},
                        {"name", row.name},
                        {"status", row.status},
                        {"startDate", EpochSeconds(row.start)}};
      if (row.stop) item["stopDate"] = EpochSeconds(*row.stop);
      if (row.redrive_count > 0) item["redriveCount"] = row.redrive_count;
      if (row.redrive) item["redriveDate"] = EpochSeconds(*row.redrive);
      executions.push_back(std::move(item));
    }
    if (rows.size() > limit) {
      const store::ExecutionRow& last = rows[limit - 1];
      response["nextToken"] = "e." + std::to_string(last.start.time_since_epoch().count()) + "." +
                              std::to_string(last.id);
    }
    Answer(reply, response);
  }

  void GetExecutionHistory(const Request& request, Reply reply) {
    StatusOr<std::optional<std::string>> arn = request.String("executionArn", 1, 256, true);
    if (!arn.ok()) return reply(arn.status());
    StatusOr<std::optional<int64_t>> max = request.Int("maxResults", 0, kMaxPageSize);
    if (!max.ok()) return reply(max.status());
    StatusOr<std::optional<bool>> reverse = request.Bool("reverseOrder");
    if (!reverse.ok()) return reply(reverse.status());
    StatusOr<std::optional<bool>> include = request.Bool("includeExecutionData");
    if (!include.ok()) return reply(include.status());
    StatusOr<std::optional<std::string>> token = request.String("nextToken", 1, 3096, false);
    if (!token.ok()) return reply(token.status());
    if (Status status = CheckExecutionArn(**arn); !status.ok()) return reply(status);
    // The token names the id of the next event to return ("h.<id>"): ids stay put while a
    // running execution adds events, so pages neither skip nor repeat in either order.
    std::optional<int64_t> next_id;
    if (*token) {
      if ((*token)->rfind("h.", 0) == 0) next_id = ParseInt(std::string_view(**token).substr(2));
      if (!next_id || *next_id < 1) return reply(InvalidToken(**token));
    }
    StatusOr<std::shared_ptr<const std::vector<asl::HistoryEvent>>> history =
        runtime_.ReplayHistory(**arn);
    if (!history.ok()) {
      if (history.status().code() == StatusCode::kNotFound) {
        return reply(ExecutionDoesNotExist(**arn));
      }
      return reply(history.status());
    }
    const size_t limit = PageSize(*max);
    const int64_t total = static_cast<int64_t>((*history)->size());
    if (next_id && *next_id > total) return reply(InvalidToken(**token));
    const bool reversed = reverse->value_or(false);
    const bool with_data = include->value_or(true);
    json::object response;
    json::array& events = response["events"].emplace_array();
    const int64_t step = reversed ? -1 : 1;
    int64_t id = next_id.value_or(reversed ? total : 1);
    for (; id >= 1 && id <= total && events.size() < limit; id += step) {
      const asl::HistoryEvent& event = (**history)[static_cast<size_t>(id - 1)];
      json::object item = asl::HistoryEventToJson(event);
      if (!with_data) {
        for (auto& [key, details] : item) {
          if (!details.is_object() || !key.ends_with("EventDetails")) continue;
          json::object& d = details.as_object();
          // The data goes; its details ({"truncated": ...}, the only member the SDKs model
          // for events) stay.
          d.erase("input");
          d.erase("output");
          d.erase("parameters");
        }
      }
      events.push_back(std::move(item));
    }
    if (id >= 1 && id <= total) response["nextToken"] = "h." + std::to_string(id);
    Answer(reply, response);
  }

  static constexpr Duration kClientTokenLifetime = std::chrono::minutes(15);

  std::optional<WallTime> RedriveForToken(const std::string& key) {
    std::lock_guard lock(tokens_mu_);
    ForgetOldTokens();
    auto it = redrive_tokens_.find(key);
    if (it == redrive_tokens_.end()) return std::nullopt;
    return it->second;
  }

  void RememberRedrive(const std::string& key, WallTime redrive_date) {
    std::lock_guard lock(tokens_mu_);
    ForgetOldTokens();
    redrive_tokens_.emplace(key, redrive_date);
  }

  void ForgetOldTokens() {  // tokens_mu_ held
    const WallTime oldest = clock_.WallNow() - kClientTokenLifetime;
    std::erase_if(redrive_tokens_, [oldest](const auto& entry) { return entry.second < oldest; });
  }

  // Constant after construction.
  store::Journal& journal_;
  engine::Runtime& runtime_;
  const Clock& clock_;
  const StepFunctionsApiOptions options_;
  SystemRandom random_;  // names and revision ids; thread-safe
  std::mutex tokens_mu_;
  // "<execution ARN>\n<clientToken>" -> the redrive date it was answered with.
  std::map<std::string, WallTime> redrive_tokens_;  // guarded by tokens_mu_
};

StepFunctionsApi::StepFunctionsApi(store::Journal& journal, engine::Runtime& runtime,
                                   const Clock& clock, StepFunctionsApiOptions options)
    : impl_(std::make_unique<Impl>(journal, runtime, clock, std::move(options))) {}

StepFunctionsApi::~StepFunctionsApi() = default;

void StepFunctionsApi::Call(std::string_view action, std::string body, Reply reply) {
  impl_->Call(action, std::move(body), std::move(reply));
}

}  // namespace hpd::server

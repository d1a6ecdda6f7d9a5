#include "sandbox/account.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <utility>

#include "common/digest.h"
#include "store/sqlite.h"

namespace hpd::sandbox {
namespace {

using store::Database;
using store::Statement;

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr std::string_view kStackType = "AWS::CloudFormation::Stack";
constexpr std::string_view kSageMakerCluster = "AWS::SageMaker::Cluster";
constexpr std::string_view kEksCluster = "AWS::EKS::Cluster";
constexpr std::string_view kOidcProvider = "Custom::AWSCDKOpenIdConnectProvider";
constexpr std::string_view kHelmChart = "Custom::AWSCDK-EKS-HelmChart";
constexpr std::string_view kLoadBalancer = "AWS::ElasticLoadBalancingV2::LoadBalancer";
constexpr std::string_view kFsx = "AWS::FSx::FileSystem";
// Internal status of a DELETE_FAILED resource whose delete is being retried; shown as
// DELETE_FAILED until it starts deleting (which happens within the same call).
constexpr std::string_view kRetryDelete = "RETRY_DELETE";

Status ValidationError(std::string message) {
  return Named(InvalidArgumentError(std::move(message)), "ValidationError");
}

Status StackNotFound(std::string_view name) {
  return ValidationError("Stack with id " + std::string(name) + " does not exist");
}

// --- Deterministic identifiers -------------------------------------------------------------------

std::string Hex(std::string_view seed, size_t n) {
  std::string hex;
  for (int round = 0; hex.size() < n; ++round)
    hex += Sha256Hex(std::string(seed) + "#" + std::to_string(round));
  return hex.substr(0, n);
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// n characters from `alphabet`, chosen by the seed's digest.
std::string FromAlphabet(std::string_view seed, size_t n, std::string_view alphabet) {
  const std::string hex = Hex(seed, 2 * n);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const unsigned value = static_cast<unsigned>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    out += alphabet[value % alphabet.size()];
  }
  return out;
}

std::string LowerAlnum(std::string_view seed, size_t n) {
  return FromAlphabet(seed, n, "abcdefghijklmnopqrstuvwxyz0123456789");
}
std::string UpperAlnum(std::string_view seed, size_t n) {
  return FromAlphabet(seed, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
}

std::string UuidFrom(std::string_view seed) {
  std::string h = Hex(seed, 32);
  h[12] = '4';
  h[16] = "89ab"[std::stoul(h.substr(16, 1), nullptr, 16) % 4];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

// --- JSON helpers --------------------------------------------------------------------------------

std::string ToJson(const boost::json::value& value) { return boost::json::serialize(value); }

boost::json::value FromJson(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) return nullptr;
  return value;
}

boost::json::object ObjectFromJson(std::string_view text) {
  boost::json::value value = FromJson(text);
  return value.is_object() ? std::move(value.as_object()) : boost::json::object();
}

std::string StringAt(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr) return "";
  if (value->is_string()) return std::string(value->as_string());
  if (value->is_null()) return "";
  return ToJson(*value);
}

int64_t IntAt(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<int64_t>(value->as_uint64());
  if (value->is_double()) return static_cast<int64_t>(value->as_double());
  if (value->is_string()) return std::atoll(value->as_string().c_str());
  return 0;
}

std::string TagsToJson(const std::map<std::string, std::string>& tags) {
  boost::json::object object;
  for (const auto& [key, value] : tags) object[key] = value;
  return ToJson(object);
}

std::map<std::string, std::string> TagsFromJson(std::string_view text) {
  std::map<std::string, std::string> tags;
  for (const auto& [key, value] : ObjectFromJson(text)) {
    tags[std::string(key)] = value.is_string() ? std::string(value.as_string()) : ToJson(value);
  }
  return tags;
}

// The logical ids referenced by {"Ref": X} and {"Fn::GetAtt": [X, attr]} inside `value`.
void CollectReferences(const boost::json::value& value, std::set<std::string>* out) {
  if (value.is_array()) {
    for (const auto& item : value.as_array()) CollectReferences(item, out);
    return;
  }
  if (!value.is_object()) return;
  const auto& object = value.as_object();
  if (object.size() == 1) {
    if (const auto* ref = object.if_contains("Ref"); ref != nullptr && ref->is_string()) {
      out->insert(std::string(ref->as_string()));
      return;
    }
    if (const auto* att = object.if_contains("Fn::GetAtt"); att != nullptr && att->is_array() &&
                                                            att->as_array().size() == 2 &&
                                                            att->as_array()[0].is_string()) {
      out->insert(std::string(att->as_array()[0].as_string()));
      return;
    }
  }
  for (const auto& [key, item] : object) CollectReferences(item, out);
}

// --- Persistent model ----------------------------------------------------------------------------

struct Res {
  int64_t idx = 0;
  std::string logical_id;
  std::string type;
  boost::json::object props;
  std::vector<size_t> deps;
  int64_t create_ms = 0;
  int64_t delete_ms = 0;
  std::string physical_id;
  boost::json::object attrs;
  std::string status;
  std::string reason;
  int64_t start_ns = 0;
  int64_t due_ns = 0;
  int64_t end_ns = 0;
  bool dirty = false;
};

struct StackRow {
  int64_t row = 0;
  std::string stack_id;
  std::string region;
  std::string name;
  std::string status;
  std::string reason;
  std::map<std::string, std::string> tags;
  std::string job_id;
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
  int64_t phase_ns = 0;
  std::vector<OutputSpec> outputs;
  Faults faults;  // the job's faults when the stack was created
  std::string cleanup_target;
  std::vector<Res> res;
};

struct PendingEvent {
  int64_t time_ns;
  std::string logical_id;
  std::string physical_id;
  std::string type;
  std::string status;
  std::string reason;
};

std::string FaultsToJson(const Faults& faults) {
  boost::json::array specs;
  for (const std::string& spec : FaultSpecs(faults)) specs.emplace_back(spec);
  return ToJson(specs);
}

Faults FaultsFromJson(std::string_view text) {
  std::vector<std::string> specs;
  const boost::json::value value = FromJson(text);
  if (value.is_array()) {
    for (const auto& item : value.as_array()) {
      if (item.is_string()) specs.emplace_back(item.as_string());
    }
  }
  StatusOr<Faults> faults = ParseFaults(specs);
  return faults.ok() ? *faults : Faults();
}

WallTime ToWall(int64_t ns) { return WallTime(Duration(ns)); }
int64_t Nanos(WallTime time) { return time.time_since_epoch().count(); }

// The database side of one call: the connection, "now" and the account's constants.
struct Env {
  Database& db;
  int64_t now;
  double scale;
  const std::string& account;
};

constexpr std::string_view kStackColumns =
    "rowid_, stack_id, region, name, status, reason, tags, job_id, created_ns, updated_ns, "
    "phase_ns, outputs, create_faults, cleanup_target";

StatusOr<std::vector<StackRow>> LoadStacks(Database& db, std::string_view where,
                                           const std::vector<std::string>& args) {
  HPD_ASSIGN_OR_RETURN(Statement query,
                       db.Prepare("SELECT " + std::string(kStackColumns) + " FROM stacks WHERE " +
                                  std::string(where) + " ORDER BY rowid_"));
  for (size_t i = 0; i < args.size(); ++i) query.Bind(static_cast<int>(i + 1), args[i]);
  std::vector<StackRow> stacks;
  while (true) {
    HPD_ASSIGN_OR_RETURN(bool row, query.Step());
    if (!row) break;
    StackRow s;
    s.row = query.Int(0);
    s.stack_id = query.Text(1);
    s.region = query.Text(2);
    s.name = query.Text(3);
    s.status = query.Text(4);
    s.reason = query.Text(5);
    s.tags = TagsFromJson(query.Text(6));
    s.job_id = query.Text(7);
    s.created_ns = query.Int(8);
    s.updated_ns = query.Int(9);
    s.phase_ns = query.Int(10);
    const boost::json::value outputs = FromJson(query.Text(11));
    if (outputs.is_array()) {
      for (const auto& item : outputs.as_array()) {
        if (!item.is_array() || item.as_array().size() != 3) continue;
        const auto& triple = item.as_array();
        s.outputs.push_back(OutputSpec{std::string(triple[0].as_string()),
                                       std::string(triple[1].as_string()),
                                       std::string(triple[2].as_string())});
      }
    }
    s.faults = FaultsFromJson(query.Text(12));
    s.cleanup_target = query.Text(13);
    stacks.push_back(std::move(s));
  }
  query.Reset();
  HPD_ASSIGN_OR_RETURN(
      Statement resources,
      db.Prepare("SELECT idx, logical_id, type, properties, depends, create_ms, delete_ms, "
                 "physical_id, attrs, status, reason, start_ns, due_ns, end_ns FROM resources "
                 "WHERE stack = ?1 ORDER BY idx"));
  for (StackRow& s : stacks) {
    resources.Bind(1, s.row);
    while (true) {
      HPD_ASSIGN_OR_RETURN(bool row, resources.Step());
      if (!row) break;
      Res r;
      r.idx = resources.Int(0);
      r.logical_id = resources.Text(1);
      r.type = resources.Text(2);
      r.props = ObjectFromJson(resources.Text(3));
      const boost::json::value deps = FromJson(resources.Text(4));
      if (deps.is_array()) {
        for (const auto& d : deps.as_array()) {
          if (d.is_int64()) r.deps.push_back(static_cast<size_t>(d.as_int64()));
        }
      }
      r.create_ms = resources.Int(5);
      r.delete_ms = resources.Int(6);
      r.physical_id = resources.Text(7);
      r.attrs = ObjectFromJson(resources.Text(8));
      r.status = resources.Text(9);
      r.reason = resources.Text(10);
      r.start_ns = resources.Int(11);
      r.due_ns = resources.Int(12);
      r.end_ns = resources.Int(13);
      s.res.push_back(std::move(r));
    }
    resources.Reset();
  }
  return stacks;
}

Status SaveStack(Database& db, StackRow& s, const std::vector<PendingEvent>& events) {
  HPD_ASSIGN_OR_RETURN(Statement update,
                       db.Prepare("UPDATE stacks SET status = ?1, reason = ?2, updated_ns = ?3, "
                                  "phase_ns = ?4, cleanup_target = ?5 WHERE rowid_ = ?6"));
  HPD_RETURN_IF_ERROR(update.Bind(1, s.status)
                          .Bind(2, s.reason)
                          .Bind(3, s.updated_ns)
                          .Bind(4, s.phase_ns)
                          .Bind(5, s.cleanup_target)
                          .Bind(6, s.row)
                          .Run());
  HPD_ASSIGN_OR_RETURN(
      Statement resource,
      db.Prepare("UPDATE resources SET properties = ?1, physical_id = ?2, attrs = ?3, status = ?4, "
                 "reason = ?5, start_ns = ?6, due_ns = ?7, end_ns = ?8 WHERE stack = ?9 AND "
                 "idx = ?10"));
  for (Res& r : s.res) {
    if (!r.dirty) continue;
    const std::string props = ToJson(r.props);
    const std::string attrs = ToJson(r.attrs);
    HPD_RETURN_IF_ERROR(resource.Bind(1, props)
                            .Bind(2, r.physical_id)
                            .Bind(3, attrs)
                            .Bind(4, r.status)
                            .Bind(5, r.reason)
                            .Bind(6, r.start_ns)
                            .Bind(7, r.due_ns)
                            .Bind(8, r.end_ns)
                            .Bind(9, s.row)
                            .Bind(10, r.idx)
                            .Run());
    resource.Reset();
    r.dirty = false;
  }
  HPD_ASSIGN_OR_RETURN(
      Statement insert,
      db.Prepare("INSERT INTO events (stack, time_ns, logical_id, physical_id, type, status, "
                 "reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  for (const PendingEvent& e : events) {
    HPD_RETURN_IF_ERROR(insert.Bind(1, s.row)
                            .Bind(2, e.time_ns)
                            .Bind(3, e.logical_id)
                            .Bind(4, e.physical_id)
                            .Bind(5, e.type)
                            .Bind(6, e.status)
                            .Bind(7, e.reason)
                            .Run());
    insert.Reset();
  }
  return Status::Ok();
}

// --- Simulation ----------------------------------------------------------------------------------

// Gives a starting resource its physical id and attributes, as the real service would.
void AssignIdentity(const StackRow& s, Res& r, const std::string& account) {
  const std::string seed = s.stack_id + "|" + r.logical_id;
  const std::string& region = s.region;
  auto hex17 = [&](std::string_view salt) { return Hex(seed + std::string(salt), 17); };
  auto& a = r.attrs;
  const std::string& t = r.type;
  if (t == "AWS::EC2::VPC") {
    r.physical_id = "vpc-" + hex17("");
    a["VpcId"] = r.physical_id;
    a["CidrBlock"] = StringAt(r.props, "CidrBlock");
    a["DefaultSecurityGroup"] = "sg-" + hex17("sg");
  } else if (t == "AWS::EC2::Subnet") {
    r.physical_id = "subnet-" + hex17("");
    a["SubnetId"] = r.physical_id;
    a["AvailabilityZone"] = StringAt(r.props, "AvailabilityZone");
  } else if (t == "AWS::EC2::InternetGateway") {
    r.physical_id = "igw-" + hex17("");
  } else if (t == "AWS::EC2::NatGateway") {
    r.physical_id = "nat-" + hex17("");
  } else if (t == "AWS::EC2::RouteTable") {
    r.physical_id = "rtb-" + hex17("");
  } else if (t == "AWS::EC2::SecurityGroup") {
    r.physical_id = "sg-" + hex17("");
    a["GroupId"] = r.physical_id;
  } else if (t == "AWS::EC2::EIP") {
    const std::string h = Hex(seed, 6);
    r.physical_id = "52." + std::to_string(std::stoul(h.substr(0, 2), nullptr, 16)) + "." +
                    std::to_string(std::stoul(h.substr(2, 2), nullptr, 16)) + "." +
                    std::to_string(std::stoul(h.substr(4, 2), nullptr, 16));
    a["AllocationId"] = "eipalloc-" + hex17("alloc");
  } else if (t == "AWS::IAM::Role") {
    std::string name =
        s.name.substr(0, 20) + "-" + r.logical_id.substr(0, 30) + "-" + UpperAlnum(seed, 12);
    r.physical_id = name;
    a["Arn"] = "arn:aws:iam::" + account + ":role/" + name;
    a["RoleId"] = "AROA" + UpperAlnum(seed + "id", 17);
  } else if (t == kEksCluster) {
    std::string name = StringAt(r.props, "Name");
    if (name.empty()) name = r.logical_id;
    r.physical_id = name;
    a["Name"] = name;
    a["Arn"] = "arn:aws:eks:" + region + ":" + account + ":cluster/" + name;
    a["Endpoint"] =
        "https://" + Upper(Hex(seed + "endpoint", 32)) + ".gr7." + region + ".eks.amazonaws.com";
    a["OpenIdConnectIssuerUrl"] =
        "https://oidc.eks." + region + ".amazonaws.com/id/" + Upper(Hex(seed + "oidc", 32));
    a["ClusterSecurityGroupId"] = "sg-" + hex17("clustersg");
  } else if (t == "AWS::EKS::Nodegroup") {
    std::string name = StringAt(r.props, "NodegroupName");
    if (name.empty()) name = r.logical_id + "-" + UpperAlnum(seed, 12);
    const std::string cluster = StringAt(r.props, "ClusterName");
    r.physical_id = cluster + "/" + name;
    a["NodegroupName"] = name;
    a["Arn"] = "arn:aws:eks:" + region + ":" + account + ":nodegroup/" + cluster + "/" + name +
               "/" + UuidFrom(seed);
  } else if (t == kOidcProvider) {
    std::string url = StringAt(r.props, "Url");
    if (url.rfind("https://", 0) == 0) url = url.substr(8);
    r.physical_id = "arn:aws:iam::" + account + ":oidc-provider/" + url;
    a["Arn"] = r.physical_id;
  } else if (t == kSageMakerCluster) {
    r.physical_id =
        "arn:aws:sagemaker:" + region + ":" + account + ":cluster/" + LowerAlnum(seed, 12);
    a["ClusterArn"] = r.physical_id;
    a["ClusterName"] = StringAt(r.props, "ClusterName");
  } else if (t == kFsx) {
    r.physical_id = "fs-" + hex17("");
    a["Id"] = r.physical_id;
    a["DNSName"] = r.physical_id + ".fsx." + region + ".amazonaws.com";
    a["LustreMountName"] = LowerAlnum(seed + "mount", 8);
  } else if (t == "AWS::S3::Bucket") {
    std::string name =
        Lower(s.name.substr(0, 24) + "-" + r.logical_id.substr(0, 24)) + "-" + LowerAlnum(seed, 12);
    r.physical_id = name;
    a["Arn"] = "arn:aws:s3:::" + name;
    a["DomainName"] = name + ".s3.amazonaws.com";
  } else if (t == kLoadBalancer) {
    std::string name = StringAt(r.props, "Name");
    if (name.empty())
      name = "k8s-kubesyst-" + Lower(r.logical_id.substr(0, 8)) + "-" + Hex(seed, 10);
    const std::string suffix = Hex(seed + "lb", 16);
    r.physical_id = "arn:aws:elasticloadbalancing:" + region + ":" + account +
                    ":loadbalancer/net/" + name + "/" + suffix;
    a["LoadBalancerArn"] = r.physical_id;
    a["LoadBalancerName"] = name;
    a["DNSName"] = name + "-" + suffix + ".elb." + region + ".amazonaws.com";
  } else if (t == kStackType) {
    r.physical_id = "arn:aws:cloudformation:" + region + ":" + account + ":stack/" +
                    s.name.substr(0, 40) + "-" + r.logical_id.substr(0, 40) + "-" +
                    UpperAlnum(seed, 12) + "/" + UuidFrom(seed);
  } else if (t == kHelmChart) {
    r.physical_id = StringAt(r.props, "Release");
    if (r.physical_id.empty()) r.physical_id = r.logical_id;
  } else {
    r.physical_id =
        s.name.substr(0, 40) + "-" + r.logical_id.substr(0, 40) + "-" + UpperAlnum(seed, 12);
  }
  if (!a.contains("Arn") && r.physical_id.rfind("arn:", 0) == 0) a["Arn"] = r.physical_id;
}

// Replaces {"Ref": X} and {"Fn::GetAtt": [X, attr]} with the started resources' values.
boost::json::value Resolve(const boost::json::value& value, const StackRow& s) {
  auto find = [&](std::string_view logical) -> const Res* {
    for (const Res& r : s.res) {
      if (r.logical_id == logical) return &r;
    }
    return nullptr;
  };
  if (value.is_array()) {
    boost::json::array out;
    for (const auto& item : value.as_array()) out.push_back(Resolve(item, s));
    return out;
  }
  if (!value.is_object()) return value;
  const auto& object = value.as_object();
  if (object.size() == 1) {
    if (const auto* ref = object.if_contains("Ref"); ref != nullptr && ref->is_string()) {
      if (const Res* r = find(ref->as_string())) return boost::json::string(r->physical_id);
    }
    if (const auto* att = object.if_contains("Fn::GetAtt");
        att != nullptr && att->is_array() && att->as_array().size() == 2 &&
        att->as_array()[0].is_string() && att->as_array()[1].is_string()) {
      if (const Res* r = find(att->as_array()[0].as_string())) {
        if (const auto* v = r->attrs.if_contains(att->as_array()[1].as_string())) return *v;
        return boost::json::string(r->physical_id);
      }
    }
  }
  boost::json::object out;
  for (const auto& [key, item] : object) out[key] = Resolve(item, s);
  return out;
}

bool NeedsDelete(std::string_view status) {
  return status == "CREATE_COMPLETE" || status == "CREATE_FAILED" || status == kRetryDelete;
}

std::string FirstInstanceType(const Res& r) {
  const auto* groups = r.props.if_contains("InstanceGroups");
  if (groups != nullptr && groups->is_array() && !groups->as_array().empty() &&
      groups->as_array()[0].is_object()) {
    return StringAt(groups->as_array()[0].as_object(), "InstanceType");
  }
  return "ml.g5.8xlarge";
}

// Moves one stack forward to `now`, appending the events it produces.
class StackSim {
 public:
  StackSim(StackRow& s, const Env& env) : s_(s), env_(env) {}

  std::vector<PendingEvent>& events() { return events_; }

  void Run() {
    while (true) {
      if (s_.status == "CREATE_IN_PROGRESS") {
        if (!StepCreate()) return;
      } else if (s_.status == "DELETE_IN_PROGRESS" || s_.status == "ROLLBACK_IN_PROGRESS") {
        if (!StepDelete()) return;
      } else {
        return;
      }
    }
  }

  // Stops creation at `t`: every resource in progress fails as cancelled.
  void CancelInProgress(int64_t t) {
    for (Res& r : s_.res) {
      if (r.status != "CREATE_IN_PROGRESS") continue;
      SetStatus(r, t, "CREATE_FAILED", "Resource creation cancelled");
      r.end_ns = t;
    }
  }

  void SetStackStatus(int64_t t, std::string status, std::string reason) {
    s_.status = std::move(status);
    s_.reason = std::move(reason);
    s_.updated_ns = t;
    events_.push_back(
        PendingEvent{t, s_.name, s_.stack_id, std::string(kStackType), s_.status, s_.reason});
  }

 private:
  int64_t Scaled(int64_t ms) const {
    return static_cast<int64_t>(std::llround(static_cast<double>(ms) * 1e6 * env_.scale));
  }

  void SetStatus(Res& r, int64_t t, std::string status, std::string reason) {
    r.status = std::move(status);
    r.reason = std::move(reason);
    r.dirty = true;
    events_.push_back(PendingEvent{t, r.logical_id, r.physical_id, r.type, r.status, r.reason});
  }

  // Applies the earliest due creation transition; false when none is due by now.
  bool StepCreate() {
    size_t best = s_.res.size();
    int64_t best_time = kNever;
    bool best_is_start = false;
    for (size_t i = 0; i < s_.res.size(); ++i) {
      const Res& r = s_.res[i];
      if (r.status.empty()) {
        bool ready = true;
        int64_t t = s_.created_ns;
        for (size_t d : r.deps) {
          if (s_.res[d].status != "CREATE_COMPLETE") {
            ready = false;
            break;
          }
          t = std::max(t, s_.res[d].end_ns);
        }
        if (ready && t < best_time) {
          best = i;
          best_time = t;
          best_is_start = true;
        }
        // At equal times a completion goes before a start (and a lower index first).
      } else if (r.status == "CREATE_IN_PROGRESS" &&
                 (r.due_ns < best_time || (r.due_ns == best_time && best_is_start))) {
        if (r.due_ns == kNever) continue;
        best = i;
        best_time = r.due_ns;
        best_is_start = false;
      }
    }
    if (best == s_.res.size() || best_time > env_.now) return false;
    Res& r = s_.res[best];
    const int64_t t = best_time;
    if (best_is_start) {
      r.props = Resolve(r.props, s_).as_object();
      AssignIdentity(s_, r, env_.account);
      r.start_ns = t;
      r.due_ns = t + Scaled(r.create_ms);
      if (s_.faults.deploy_hang && r.type == kEksCluster) r.due_ns = kNever;
      if (s_.faults.insufficient_capacity && r.type == kSageMakerCluster) {
        r.due_ns = t + Scaled(r.create_ms * 2 / 5);
      }
      const std::string physical = r.physical_id;
      r.physical_id.clear();
      SetStatus(r, t, "CREATE_IN_PROGRESS", "");
      r.physical_id = physical;
      SetStatus(r, t, "CREATE_IN_PROGRESS", "Resource creation Initiated");
      return true;
    }
    r.end_ns = t;
    if (s_.faults.insufficient_capacity && r.type == kSageMakerCluster) {
      const std::string az = s_.region + "a";
      SetStatus(r, t, "CREATE_FAILED",
                "Resource handler returned message: \"Insufficient capacity for " +
                    FirstInstanceType(r) + " in " + az +
                    ". Please try again later or choose a different Availability Zone or "
                    "instance type.\" (RequestToken: " +
                    UuidFrom(s_.stack_id + "token") +
                    ", HandlerErrorCode: GeneralServiceException)");
      std::string failed = r.logical_id;
      CancelInProgress(t);
      for (const Res& other : s_.res) {
        if (other.status == "CREATE_FAILED" && other.logical_id != r.logical_id) {
          failed += ", " + other.logical_id;
        }
      }
      s_.phase_ns = t;
      SetStackStatus(t, "ROLLBACK_IN_PROGRESS",
                     "The following resource(s) failed to create: [" + failed +
                         "]. Rollback requested by user.");
      return true;
    }
    SetStatus(r, t, "CREATE_COMPLETE", "");
    size_t complete = 0;
    for (const Res& other : s_.res) complete += other.status == "CREATE_COMPLETE" ? 1u : 0u;
    if (complete == s_.res.size()) {
      SetStackStatus(t, "CREATE_COMPLETE", "");
    } else if (s_.faults.infraforge_crash && 2 * complete >= s_.res.size()) {
      CancelInProgress(t);
      SetStackStatus(t, "CREATE_FAILED", "Resource creation cancelled");
    }
    return true;
  }

  // Applies the earliest due deletion transition, or finishes the stack; false when idle.
  bool StepDelete() {
    size_t best = s_.res.size();
    int64_t best_time = kNever;
    bool best_is_start = false;
    bool pending = false;
    for (size_t i = 0; i < s_.res.size(); ++i) {
      const Res& r = s_.res[i];
      if (r.status == "DELETE_IN_PROGRESS") {
        pending = true;
        if (r.due_ns < best_time || (r.due_ns == best_time && best_is_start)) {
          best = i;
          best_time = r.due_ns;
          best_is_start = false;
        }
        continue;
      }
      if (!NeedsDelete(r.status)) continue;
      pending = true;
      bool blocked = false;
      int64_t t = s_.phase_ns;
      for (const Res& d : s_.res) {
        if (std::find(d.deps.begin(), d.deps.end(), i) == d.deps.end()) continue;
        if (NeedsDelete(d.status) || d.status == "DELETE_IN_PROGRESS") {
          blocked = true;
          break;
        }
        if (d.status == "DELETE_COMPLETE" || d.status == "DELETE_FAILED") {
          t = std::max(t, d.end_ns);
        }
      }
      if (!blocked && t < best_time) {
        best = i;
        best_time = t;
        best_is_start = true;
      }
    }
    if (!pending) {
      int64_t t = s_.phase_ns;
      bool failed = false;
      std::string failed_ids;
      for (const Res& r : s_.res) {
        if (r.status == "DELETE_COMPLETE" || r.status == "DELETE_FAILED") t = std::max(t, r.end_ns);
        if (r.status == "DELETE_FAILED") {
          failed_ids += (failed ? ", " : "") + r.logical_id;
          failed = true;
        }
      }
      if (s_.status == "ROLLBACK_IN_PROGRESS") {
        SetStackStatus(t, "ROLLBACK_COMPLETE", "");
      } else if (failed) {
        SetStackStatus(t, "DELETE_FAILED",
                       "The following resource(s) failed to delete: [" + failed_ids + "]. ");
      } else {
        SetStackStatus(t, "DELETE_COMPLETE", "");
      }
      return false;
    }
    if (best == s_.res.size() || best_time > env_.now) return false;
    Res& r = s_.res[best];
    const int64_t t = best_time;
    if (best_is_start) {
      const bool existed = r.status != "CREATE_FAILED";
      r.start_ns = t;
      r.due_ns = t + (existed ? Scaled(r.delete_ms) : 0);
      SetStatus(r, t, "DELETE_IN_PROGRESS", "");
      return true;
    }
    r.end_ns = t;
    if (s_.status == "DELETE_IN_PROGRESS" && r.logical_id == s_.cleanup_target) {
      std::string message =
          r.type == kFsx
              ? "File system '" + r.physical_id +
                    "' has 1 backup(s) in progress. Wait for the backup(s) to complete, then try "
                    "again."
              : "Resource " + r.physical_id + " has a dependent object and cannot be deleted.";
      SetStatus(r, t, "DELETE_FAILED",
                "Resource handler returned message: \"" + message + "\" (RequestToken: " +
                    UuidFrom(s_.stack_id + r.logical_id + std::to_string(t)) +
                    ", HandlerErrorCode: ResourceConflict)");
      return true;
    }
    SetStatus(r, t, "DELETE_COMPLETE", "");
    return true;
  }

  StackRow& s_;
  const Env& env_;
  std::vector<PendingEvent> events_;
};

Status AdvanceStack(const Env& env, StackRow& s) {
  StackSim sim(s, env);
  sim.Run();
  if (sim.events().empty()) return Status::Ok();
  return SaveStack(env.db, s, sim.events());
}

Status Advance(const Env& env) {
  HPD_ASSIGN_OR_RETURN(
      std::vector<StackRow> stacks,
      LoadStacks(env.db,
                 "status IN ('CREATE_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS', 'DELETE_IN_PROGRESS')",
                 {}));
  for (StackRow& s : stacks) HPD_RETURN_IF_ERROR(AdvanceStack(env, s));
  return Status::Ok();
}

// --- Views ---------------------------------------------------------------------------------------

bool Exists(std::string_view status) {
  return status == "CREATE_IN_PROGRESS" || status == "CREATE_COMPLETE" ||
         status == "DELETE_IN_PROGRESS" || status == "DELETE_FAILED" || status == kRetryDelete;
}

std::string Shown(std::string_view status) {
  return status == kRetryDelete ? "DELETE_FAILED" : std::string(status);
}

StatusOr<std::vector<StackRow>> LiveStacks(Database& db, std::string_view region) {
  if (region.empty()) return LoadStacks(db, "status != 'DELETE_COMPLETE'", {});
  return LoadStacks(db, "status != 'DELETE_COMPLETE' AND region = ?1", {std::string(region)});
}

// Finds a stack by name (live only) or by stack id (any status).
StatusOr<StackRow> FindStack(Database& db, std::string_view region, std::string_view name_or_id,
                             bool include_deleted_by_name) {
  std::vector<StackRow> stacks;
  if (name_or_id.rfind("arn:", 0) == 0) {
    HPD_ASSIGN_OR_RETURN(stacks, LoadStacks(db, "stack_id = ?1", {std::string(name_or_id)}));
  } else if (include_deleted_by_name) {
    HPD_ASSIGN_OR_RETURN(stacks, LoadStacks(db, "region = ?1 AND name = ?2",
                                            {std::string(region), std::string(name_or_id)}));
  } else {
    HPD_ASSIGN_OR_RETURN(stacks,
                         LoadStacks(db, "region = ?1 AND name = ?2 AND status != 'DELETE_COMPLETE'",
                                    {std::string(region), std::string(name_or_id)}));
  }
  if (stacks.empty()) return StackNotFound(name_or_id);
  return std::move(stacks.back());
}

Stack ToStack(const StackRow& s) {
  Stack stack{s.stack_id,           s.name, s.status, s.reason, s.tags, ToWall(s.created_ns),
              ToWall(s.updated_ns), {},     {}};
  for (const Res& r : s.res) {
    if (r.status.empty()) continue;
    stack.resources.push_back(
        StackResource{r.logical_id, r.physical_id, r.type, Shown(r.status), r.reason});
  }
  if (s.status == "CREATE_COMPLETE") {
    for (const OutputSpec& o : s.outputs) {
      for (const Res& r : s.res) {
        if (r.logical_id != o.logical_id) continue;
        std::string value = r.physical_id;
        if (!o.attribute.empty() && o.attribute != "Ref" && r.attrs.contains(o.attribute)) {
          value = StringAt(r.attrs, o.attribute);
        }
        stack.outputs[o.key] = value;
      }
    }
  }
  return stack;
}

struct ClusterView {
  HyperPodCluster cluster;
  WallTime launch_time;
};

ClusterView ToCluster(const StackRow& s, const Res& r) {
  HyperPodCluster c;
  c.arn = r.physical_id;
  c.name = StringAt(r.props, "ClusterName");
  if (c.name.empty()) c.name = r.logical_id;
  c.created = ToWall(r.start_ns);
  if (const auto* orch = r.props.if_contains("Orchestrator"); orch && orch->is_object()) {
    if (const auto* eks = orch->as_object().if_contains("Eks"); eks && eks->is_object()) {
      c.eks_cluster_arn = StringAt(eks->as_object(), "ClusterArn");
    }
  }
  std::string group_status;
  if (r.status == "CREATE_IN_PROGRESS") {
    c.status = "Creating";
    group_status = "Creating";
  } else if (r.status == "CREATE_COMPLETE") {
    c.status = "InService";
    group_status = "InService";
  } else if (r.status == "DELETE_IN_PROGRESS") {
    c.status = "Deleting";
    group_status = "Deleting";
  } else {
    c.status = "Failed";
    group_status = "Failed";
    c.failure_message = r.reason;
  }
  if (const auto* groups = r.props.if_contains("InstanceGroups"); groups && groups->is_array()) {
    for (const auto& item : groups->as_array()) {
      if (!item.is_object()) continue;
      const auto& g = item.as_object();
      InstanceGroup group{StringAt(g, "InstanceGroupName"), StringAt(g, "InstanceType"), 0,
                          IntAt(g, "InstanceCount"), group_status};
      if (group_status == "InService" || group_status == "Deleting") {
        group.current_count = group.target_count;
      }
      if (group_status == "InService" && s.faults.cluster_unhealthy && c.instance_groups.empty()) {
        group.status = "Degraded";
        group.current_count = std::max<int64_t>(0, group.target_count - 1);
      }
      c.instance_groups.push_back(std::move(group));
    }
  }
  return ClusterView{std::move(c), ToWall(r.end_ns)};
}

// Every HyperPod cluster that exists in the region, with its stack.
StatusOr<std::vector<ClusterView>> Clusters(Database& db, std::string_view region) {
  HPD_ASSIGN_OR_RETURN(std::vector<StackRow> stacks, LiveStacks(db, region));
  std::vector<ClusterView> clusters;
  for (const StackRow& s : stacks) {
    for (const Res& r : s.res) {
      if (r.type != kSageMakerCluster) continue;
      if (!Exists(r.status) && r.status != "CREATE_FAILED") continue;
      clusters.push_back(ToCluster(s, r));
    }
  }
  return clusters;
}

StatusOr<ClusterView> FindCluster(Database& db, std::string_view region,
                                  std::string_view name_or_arn) {
  HPD_ASSIGN_OR_RETURN(std::vector<ClusterView> clusters, Clusters(db, region));
  for (ClusterView& view : clusters) {
    if (view.cluster.name == name_or_arn || view.cluster.arn == name_or_arn) return view;
  }
  return Named(NotFoundError("Cluster " + std::string(name_or_arn) + " not found."),
               "ResourceNotFound");
}

HyperPodUsage Usage(const std::vector<ClusterView>& clusters) {
  HyperPodUsage usage;
  for (const ClusterView& view : clusters) {
    for (const InstanceGroup& g : view.cluster.instance_groups) {
      usage.by_instance_type[g.instance_type] += g.current_count;
      usage.total += g.current_count;
    }
  }
  return usage;
}

StatusOr<EksCluster> FindEks(const std::vector<StackRow>& stacks, std::string_view name) {
  for (const StackRow& s : stacks) {
    for (const Res& r : s.res) {
      if (r.type != kEksCluster || r.physical_id != name) continue;
      if (!Exists(r.status) && r.status != "CREATE_FAILED") continue;
      EksCluster c;
      c.name = r.physical_id;
      c.arn = StringAt(r.attrs, "Arn");
      c.version = StringAt(r.props, "Version");
      c.created = ToWall(r.start_ns);
      if (r.status == "CREATE_IN_PROGRESS") {
        c.status = "CREATING";
      } else if (r.status == "DELETE_IN_PROGRESS") {
        c.status = "DELETING";
      } else if (r.status == "CREATE_FAILED") {
        c.status = "FAILED";
      } else {
        c.status = "ACTIVE";
      }
      if (c.status != "CREATING") {
        c.endpoint = StringAt(r.attrs, "Endpoint");
        c.oidc_issuer = StringAt(r.attrs, "OpenIdConnectIssuerUrl");
      }
      return c;
    }
  }
  return Named(NotFoundError("No cluster found for name: " + std::string(name) + "."),
               "ResourceNotFoundException");
}

// --- Quotas --------------------------------------------------------------------------------------

struct QuotaDefault {
  std::string_view name;
  std::string_view code;  // "" = derived from the name
  double value;
};

constexpr QuotaDefault kQuotaDefaults[] = {
    {kTotalInstancesQuotaName, "L-3308CCC7", 40},
    {kPerClusterQuotaName, "L-2CE978FC", 100},
    {kEbsQuotaName, "L-E13DF72A", 2000},
    {"ml.g5.xlarge", "", 16},
    {"ml.g5.2xlarge", "", 16},
    {"ml.g5.8xlarge", "", 16},
    {"ml.g5.12xlarge", "", 8},
    {"ml.g5.48xlarge", "", 4},
    {"ml.g6e.12xlarge", "L-A15DF696", 8},
    {"ml.m5.2xlarge", "", 16},
    {"ml.m5.12xlarge", "", 8},
    {"ml.c5.2xlarge", "", 16},
    {"ml.p4d.24xlarge", "", 4},
    {"ml.p5.48xlarge", "", 4},
    {"ml.trn1.32xlarge", "", 4},
};

std::string QuotaCodeFor(std::string_view name) { return "L-" + Upper(Hex(name, 8)); }

std::string FormatValue(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

double ParseValue(std::string_view text) {
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

Status SeedQuotas(Database& db, std::string_view region) {
  HPD_ASSIGN_OR_RETURN(Statement count,
                       db.Prepare("SELECT COUNT(*) FROM quotas WHERE region = ?1"));
  count.Bind(1, region);
  HPD_ASSIGN_OR_RETURN(bool row, count.Step());
  const int64_t n = row ? count.Int(0) : 0;
  count.Reset();
  if (n > 0) return Status::Ok();
  HPD_ASSIGN_OR_RETURN(
      Statement insert,
      db.Prepare("INSERT OR IGNORE INTO quotas (region, service_code, quota_code, quota_name, "
                 "value, unit, adjustable) VALUES (?1, 'sagemaker', ?2, ?3, ?4, 'None', 1)"));
  for (const QuotaDefault& q : kQuotaDefaults) {
    const std::string name =
        q.name.rfind("ml.", 0) == 0 ? InstanceTypeQuotaName(q.name) : std::string(q.name);
    const std::string code = q.code.empty() ? QuotaCodeFor(name) : std::string(q.code);
    const std::string value = FormatValue(q.value);
    HPD_RETURN_IF_ERROR(insert.Bind(1, region).Bind(2, code).Bind(3, name).Bind(4, value).Run());
    insert.Reset();
  }
  return Status::Ok();
}

Status RequireRegion(const CallContext& ctx) {
  if (ctx.region.empty()) {
    return Named(InvalidArgumentError("could not find region configuration"), "MissingRegion");
  }
  return Status::Ok();
}

bool ValidStackName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

constexpr std::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS faults (job_id TEXT PRIMARY KEY, specs TEXT NOT NULL,"
    "  throttle_used INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS operation_throttles (job_id TEXT NOT NULL, operation TEXT NOT NULL,"
    "  used INTEGER NOT NULL, PRIMARY KEY (job_id, operation));"
    "CREATE TABLE IF NOT EXISTS stacks (rowid_ INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  stack_id TEXT NOT NULL UNIQUE, region TEXT NOT NULL, name TEXT NOT NULL,"
    "  status TEXT NOT NULL, reason TEXT NOT NULL, tags TEXT NOT NULL, job_id TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL, phase_ns INTEGER NOT NULL,"
    "  outputs TEXT NOT NULL, create_faults TEXT NOT NULL, cleanup_target TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS stacks_by_name ON stacks (region, name);"
    "CREATE INDEX IF NOT EXISTS stacks_by_status ON stacks (status);"
    "CREATE TABLE IF NOT EXISTS resources (stack INTEGER NOT NULL, idx INTEGER NOT NULL,"
    "  logical_id TEXT NOT NULL, type TEXT NOT NULL, properties TEXT NOT NULL,"
    "  depends TEXT NOT NULL, create_ms INTEGER NOT NULL, delete_ms INTEGER NOT NULL,"
    "  physical_id TEXT NOT NULL, attrs TEXT NOT NULL, status TEXT NOT NULL,"
    "  reason TEXT NOT NULL, start_ns INTEGER NOT NULL, due_ns INTEGER NOT NULL,"
    "  end_ns INTEGER NOT NULL, PRIMARY KEY (stack, idx)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  stack INTEGER NOT NULL, time_ns INTEGER NOT NULL, logical_id TEXT NOT NULL,"
    "  physical_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,"
    "  reason TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_by_stack ON events (stack, seq);"
    "CREATE TABLE IF NOT EXISTS quotas (region TEXT NOT NULL, service_code TEXT NOT NULL,"
    "  quota_code TEXT NOT NULL, quota_name TEXT NOT NULL, value TEXT NOT NULL,"
    "  unit TEXT NOT NULL, adjustable INTEGER NOT NULL,"
    "  PRIMARY KEY (region, service_code, quota_name)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

StatusOr<std::optional<std::string>> Meta(Database& db, std::string_view key) {
  HPD_ASSIGN_OR_RETURN(Statement query, db.Prepare("SELECT value FROM meta WHERE key = ?1"));
  query.Bind(1, key);
  HPD_ASSIGN_OR_RETURN(bool row, query.Step());
  std::optional<std::string> value;
  if (row) value = std::string(query.Text(0));
  query.Reset();
  return value;
}

Status SetMeta(Database& db, std::string_view key, std::string_view value) {
  HPD_ASSIGN_OR_RETURN(Statement upsert,
                       db.Prepare("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) "
                                  "DO UPDATE SET value = excluded.value"));
  return upsert.Bind(1, key).Bind(2, value).Run();
}

StatusOr<std::pair<Faults, int64_t>> LoadFaults(Database& db, std::string_view job_id) {
  HPD_ASSIGN_OR_RETURN(Statement query,
                       db.Prepare("SELECT specs, throttle_used FROM faults WHERE job_id = ?1"));
  query.Bind(1, job_id);
  HPD_ASSIGN_OR_RETURN(bool row, query.Step());
  std::pair<Faults, int64_t> result{Faults(), 0};
  if (row) result = {FaultsFromJson(query.Text(0)), query.Int(1)};
  query.Reset();
  return result;
}

StatusOr<std::unique_ptr<Database>> OpenDatabase(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return UnavailableError("cannot create " + dir.string() + ": " + ec.message());
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                       Database::Open(dir / "account.db", Database::Mode::kReadWrite));
  HPD_RETURN_IF_ERROR(db->Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"));
  HPD_RETURN_IF_ERROR(db->InTransaction([&db] { return db->Execute(kSchema); }));
  return db;
}

struct Unit {};

}  // namespace

StatusOr<std::unique_ptr<Account>> Account::Open(const std::filesystem::path& dir,
                                                 const Clock& clock,
                                                 std::optional<double> time_scale) {
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenDatabase(dir));
  HPD_ASSIGN_OR_RETURN(std::optional<std::string> scale, Meta(*db, "time_scale"));
  HPD_ASSIGN_OR_RETURN(std::optional<std::string> id, Meta(*db, "account_id"));
  AccountOptions options;
  if (id) options.account_id = *id;
  if (time_scale) {
    options.time_scale = *time_scale;
    db.reset();
    return Open(dir, clock, options);
  }
  return std::unique_ptr<Account>(new Account(
      std::move(db), clock, scale ? ParseValue(*scale) : 1.0, std::move(options.account_id)));
}

StatusOr<std::unique_ptr<Account>> Account::Open(const std::filesystem::path& dir,
                                                 const Clock& clock,
                                                 const AccountOptions& options) {
  if (!std::isfinite(options.time_scale) || options.time_scale < 0) {
    return InvalidArgumentError("time scale must be a finite number >= 0, not " +
                                FormatValue(options.time_scale));
  }
  if (options.account_id.size() != 12 ||
      !std::all_of(options.account_id.begin(), options.account_id.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return InvalidArgumentError("account id must be 12 digits, not '" + options.account_id + "'");
  }
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenDatabase(dir));
  Status stored = db->InTransaction([&] {
    HPD_RETURN_IF_ERROR(SetMeta(*db, "time_scale", FormatValue(options.time_scale)));
    return SetMeta(*db, "account_id", options.account_id);
  });
  if (!stored.ok()) return stored;
  return std::unique_ptr<Account>(
      new Account(std::move(db), clock, options.time_scale, options.account_id));
}

Account::Account(std::unique_ptr<store::Database> db, const Clock& clock, double time_scale,
                 std::string account_id)
    : clock_(clock),
      time_scale_(time_scale),
      account_id_(std::move(account_id)),
      db_(std::move(db)) {}

Account::~Account() = default;

template <typename T, typename F>
StatusOr<T> Account::Call(const CallContext* ctx, F&& body) {
  std::lock_guard lock(mu_);
  HPD_RETURN_IF_ERROR(db_->Execute("BEGIN IMMEDIATE"));
  auto fail = [this](Status status) {
    db_->Execute("ROLLBACK").IgnoreError();
    return status;
  };
  if (ctx != nullptr && !ctx->job_id.empty()) {
    StatusOr<std::pair<Faults, int64_t>> faults = LoadFaults(*db_, ctx->job_id);
    if (!faults.ok()) return fail(faults.status());
    if (faults->second < faults->first.throttle_calls) {
      StatusOr<Statement> count =
          db_->Prepare("UPDATE faults SET throttle_used = throttle_used + 1 WHERE job_id = ?1");
      if (!count.ok()) return fail(count.status());
      if (Status counted = count->Bind(1, ctx->job_id).Run(); !counted.ok()) return fail(counted);
      HPD_RETURN_IF_ERROR(db_->Execute("COMMIT"));
      return Named(UnavailableError("Rate exceeded"), "ThrottlingException");
    }
  }
  const Env env{*db_, Nanos(clock_.WallNow()), time_scale_, account_id_};
  if (Status advanced = Advance(env); !advanced.ok()) return fail(advanced);
  StatusOr<T> result = body(env);
  if (!result.ok()) return fail(result.status());
  HPD_RETURN_IF_ERROR(db_->Execute("COMMIT"));
  return result;
}

Status Account::SetFaults(std::string_view job_id, const Faults& faults) {
  return Call<Unit>(nullptr,
                    [&](const Env& env) -> StatusOr<Unit> {
                      HPD_ASSIGN_OR_RETURN(
                          Statement upsert,
                          env.db.Prepare("INSERT INTO faults (job_id, specs, throttle_used) "
                                         "VALUES (?1, ?2, 0) ON CONFLICT (job_id) DO UPDATE SET "
                                         "specs = excluded.specs, throttle_used = 0"));
                      const std::string specs = FaultsToJson(faults);
                      HPD_RETURN_IF_ERROR(upsert.Bind(1, job_id).Bind(2, specs).Run());
                      HPD_ASSIGN_OR_RETURN(
                          Statement reset,
                          env.db.Prepare("DELETE FROM operation_throttles WHERE job_id = ?1"));
                      HPD_RETURN_IF_ERROR(reset.Bind(1, job_id).Run());
                      return Unit{};
                    })
      .status();
}

Status Account::ThrottleOperation(const CallContext& ctx, std::string_view operation) {
  if (ctx.job_id.empty()) return Status::Ok();
  StatusOr<bool> throttled = Call<bool>(nullptr, [&](const Env& env) -> StatusOr<bool> {
    HPD_ASSIGN_OR_RETURN(auto faults, LoadFaults(env.db, ctx.job_id));
    if (faults.first.throttle_calls <= 0) return false;
    HPD_ASSIGN_OR_RETURN(Statement count,
                         env.db.Prepare("INSERT INTO operation_throttles (job_id, operation, used) "
                                        "VALUES (?1, ?2, 1) ON CONFLICT (job_id, operation) DO "
                                        "UPDATE SET used = used + 1 RETURNING used"));
    count.Bind(1, ctx.job_id).Bind(2, operation);
    HPD_ASSIGN_OR_RETURN(bool row, count.Step());
    const int64_t used = row ? count.Int(0) : 0;
    count.Reset();
    return used <= faults.first.throttle_calls;
  });
  if (!throttled.ok()) return throttled.status();
  if (!*throttled) return Status::Ok();
  return Named(UnavailableError("Rate exceeded (" + std::string(operation) + ")"),
               "ThrottlingException");
}

StatusOr<Faults> Account::FaultsFor(std::string_view job_id) const {
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(auto faults, LoadFaults(*db_, job_id));
  return faults.first;
}

StatusOr<Stack> Account::CreateStack(const CallContext& ctx, const StackTemplate& tmpl) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  if (!ValidStackName(tmpl.name)) {
    return ValidationError("1 validation error detected: Value '" + tmpl.name +
                           "' at 'stackName' failed to satisfy constraint: Member must satisfy "
                           "regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/"
                           "._+]*");
  }
  if (tmpl.resources.empty()) {
    return ValidationError("Template format error: At least one Resources member must be defined.");
  }
  // Dependencies: explicit depends_on plus every Ref/GetAtt in the properties, as CloudFormation
  // infers them.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < tmpl.resources.size(); ++i) {
    const std::string& id = tmpl.resources[i].logical_id;
    if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c));
        })) {
      return ValidationError("Template format error: Resource name " + id +
                             " is non alphanumeric.");
    }
    if (!index.emplace(id, i).second) {
      return ValidationError("Template format error: Duplicate resource name " + id);
    }
  }
  std::vector<std::vector<size_t>> deps(tmpl.resources.size());
  for (size_t i = 0; i < tmpl.resources.size(); ++i) {
    std::set<std::string> refs(tmpl.resources[i].depends_on.begin(),
                               tmpl.resources[i].depends_on.end());
    CollectReferences(tmpl.resources[i].properties, &refs);
    for (const std::string& ref : refs) {
      auto it = index.find(ref);
      if (it == index.end()) {
        return ValidationError("Template format error: Unresolved resource dependencies [" + ref +
                               "] in the Resources block of the template");
      }
      deps[i].push_back(it->second);
    }
  }
  for (const OutputSpec& o : tmpl.outputs) {
    if (!index.contains(o.logical_id)) {
      return ValidationError("Template format error: Unresolved resource dependencies [" +
                             o.logical_id + "] in the Outputs block of the template");
    }
  }
  // Cycle check (Kahn).
  {
    std::vector<size_t> pending(tmpl.resources.size());
    for (size_t i = 0; i < deps.size(); ++i) pending[i] = deps[i].size();
    std::vector<bool> done(tmpl.resources.size(), false);
    bool progress = true;
    while (progress) {
      progress = false;
      for (size_t i = 0; i < deps.size(); ++i) {
        if (done[i]) continue;
        if (std::all_of(deps[i].begin(), deps[i].end(), [&](size_t d) { return done[d]; })) {
          done[i] = true;
          progress = true;
        }
      }
    }
    std::string cycle;
    for (size_t i = 0; i < done.size(); ++i) {
      if (!done[i]) cycle += (cycle.empty() ? "" : ", ") + tmpl.resources[i].logical_id;
    }
    if (!cycle.empty()) {
      return ValidationError("Circular dependency between resources: [" + cycle + "]");
    }
  }
  return Call<Stack>(&ctx, [&](const Env& env) -> StatusOr<Stack> {
    HPD_ASSIGN_OR_RETURN(
        std::vector<StackRow> existing,
        LoadStacks(env.db, "region = ?1 AND name = ?2 AND status != 'DELETE_COMPLETE'",
                   {ctx.region, tmpl.name}));
    if (!existing.empty()) {
      return Named(AlreadyExistsError("Stack [" + tmpl.name + "] already exists"),
                   "AlreadyExistsException");
    }
    HPD_ASSIGN_OR_RETURN(Statement count, env.db.Prepare("SELECT COUNT(*) FROM stacks"));
    HPD_ASSIGN_OR_RETURN(bool counted, count.Step());
    const int64_t n = counted ? count.Int(0) : 0;
    count.Reset();
    std::string job_id = ctx.job_id;
    if (auto tag = tmpl.tags.find(std::string(kJobTag)); job_id.empty() && tag != tmpl.tags.end()) {
      job_id = tag->second;
    }
    HPD_ASSIGN_OR_RETURN(auto faults, LoadFaults(env.db, job_id));
    StackRow s;
    s.region = ctx.region;
    s.name = tmpl.name;
    s.stack_id = "arn:aws:cloudformation:" + ctx.region + ":" + env.account + ":stack/" +
                 tmpl.name + "/" +
                 UuidFrom(ctx.region + "/" + tmpl.name + "/" + std::to_string(env.now) + "/" +
                          std::to_string(n));
    s.status = "CREATE_IN_PROGRESS";
    s.reason = "User Initiated";
    s.tags = tmpl.tags;
    s.job_id = job_id;
    s.created_ns = s.updated_ns = s.phase_ns = env.now;
    s.outputs = tmpl.outputs;
    s.faults = faults.first;
    boost::json::array outputs;
    for (const OutputSpec& o : tmpl.outputs) {
      outputs.push_back(boost::json::array{boost::json::string(o.key),
                                           boost::json::string(o.logical_id),
                                           boost::json::string(o.attribute)});
    }
    HPD_ASSIGN_OR_RETURN(
        Statement insert,
        env.db.Prepare("INSERT INTO stacks (stack_id, region, name, status, reason, tags, job_id, "
                       "created_ns, updated_ns, phase_ns, outputs, create_faults, cleanup_target) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8, ?9, ?10, '')"));
    const std::string tags = TagsToJson(s.tags);
    const std::string outputs_json = ToJson(outputs);
    const std::string faults_json = FaultsToJson(s.faults);
    HPD_RETURN_IF_ERROR(insert.Bind(1, s.stack_id)
                            .Bind(2, s.region)
                            .Bind(3, s.name)
                            .Bind(4, s.status)
                            .Bind(5, s.reason)
                            .Bind(6, tags)
                            .Bind(7, s.job_id)
                            .Bind(8, s.created_ns)
                            .Bind(9, outputs_json)
                            .Bind(10, faults_json)
                            .Run());
    s.row = env.db.LastInsertRowId();
    HPD_ASSIGN_OR_RETURN(
        Statement resource,
        env.db.Prepare("INSERT INTO resources (stack, idx, logical_id, type, properties, depends, "
                       "create_ms, delete_ms, physical_id, attrs, status, reason, start_ns, "
                       "due_ns, end_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', '{}', '', '', "
                       "0, 0, 0)"));
    for (size_t i = 0; i < tmpl.resources.size(); ++i) {
      const ResourceSpec& spec = tmpl.resources[i];
      boost::json::array dep_array;
      for (size_t d : deps[i]) dep_array.emplace_back(static_cast<int64_t>(d));
      const std::string props = ToJson(spec.properties);
      const std::string depends = ToJson(dep_array);
      const auto create_ms = static_cast<int64_t>(std::llround(spec.create_seconds * 1000));
      const auto delete_ms = static_cast<int64_t>(std::llround(spec.delete_seconds * 1000));
      HPD_RETURN_IF_ERROR(resource.Bind(1, s.row)
                              .Bind(2, static_cast<int64_t>(i))
                              .Bind(3, spec.logical_id)
                              .Bind(4, spec.type)
                              .Bind(5, props)
                              .Bind(6, depends)
                              .Bind(7, create_ms)
                              .Bind(8, delete_ms)
                              .Run());
      resource.Reset();
    }
    HPD_ASSIGN_OR_RETURN(std::vector<StackRow> created,
                         LoadStacks(env.db, "rowid_ = ?1", {std::to_string(s.row)}));
    StackRow& row = created.front();
    StackSim sim(row, env);
    sim.events().push_back(PendingEvent{env.now, row.name, row.stack_id, std::string(kStackType),
                                        "CREATE_IN_PROGRESS", "User Initiated"});
    sim.Run();
    HPD_RETURN_IF_ERROR(SaveStack(env.db, row, sim.events()));
    return ToStack(row);
  });
}

StatusOr<Stack> Account::DescribeStack(const CallContext& ctx, std::string_view name_or_id) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<Stack>(&ctx, [&](const Env& env) -> StatusOr<Stack> {
    HPD_ASSIGN_OR_RETURN(StackRow s, FindStack(env.db, ctx.region, name_or_id, false));
    return ToStack(s);
  });
}

StatusOr<std::vector<StackEvent>> Account::DescribeStackEvents(const CallContext& ctx,
                                                               std::string_view name_or_id,
                                                               int64_t after_sequence) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<std::vector<StackEvent>>(
      &ctx, [&](const Env& env) -> StatusOr<std::vector<StackEvent>> {
        HPD_ASSIGN_OR_RETURN(StackRow s, FindStack(env.db, ctx.region, name_or_id, true));
        HPD_ASSIGN_OR_RETURN(
            Statement query,
            env.db.Prepare("SELECT seq, time_ns, logical_id, physical_id, type, status, reason "
                           "FROM events WHERE stack = ?1 AND seq > ?2 ORDER BY seq"));
        query.Bind(1, s.row).Bind(2, after_sequence);
        std::vector<StackEvent> events;
        while (true) {
          HPD_ASSIGN_OR_RETURN(bool row, query.Step());
          if (!row) break;
          events.push_back(StackEvent{query.Int(0), ToWall(query.Int(1)), s.stack_id, s.name,
                                      std::string(query.Text(2)), std::string(query.Text(3)),
                                      std::string(query.Text(4)), std::string(query.Text(5)),
                                      std::string(query.Text(6))});
        }
        query.Reset();
        return events;
      });
}

Status Account::DeleteStack(const CallContext& ctx, std::string_view name_or_id) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<Unit>(&ctx,
                    [&](const Env& env) -> StatusOr<Unit> {
                      StatusOr<StackRow> found = FindStack(env.db, ctx.region, name_or_id, false);
                      if (!found.ok()) return Unit{};  // idempotent
                      StackRow& s = *found;
                      if (s.status == "DELETE_IN_PROGRESS" || s.status == "DELETE_COMPLETE") {
                        return Unit{};
                      }
                      HPD_ASSIGN_OR_RETURN(auto faults, LoadFaults(env.db, s.job_id));
                      StackSim sim(s, env);
                      if (s.status == "CREATE_IN_PROGRESS") sim.CancelInProgress(env.now);
                      for (Res& r : s.res) {
                        if (r.status == "DELETE_FAILED") {
                          r.status = kRetryDelete;
                          r.dirty = true;
                        }
                      }
                      s.cleanup_target.clear();
                      if (faults.first.cleanup_failure) {
                        const Res* target = nullptr;
                        for (const Res& r : s.res) {
                          if (r.type == kFsx &&
                              (r.status == "CREATE_COMPLETE" || r.status == kRetryDelete)) {
                            target = &r;
                          }
                        }
                        if (target == nullptr) {
                          for (const Res& r : s.res) {
                            if ((r.status == "CREATE_COMPLETE" || r.status == kRetryDelete) &&
                                (target == nullptr || r.end_ns >= target->end_ns)) {
                              target = &r;
                            }
                          }
                        }
                        if (target != nullptr) s.cleanup_target = target->logical_id;
                      }
                      s.phase_ns = env.now;
                      sim.SetStackStatus(env.now, "DELETE_IN_PROGRESS", "User Initiated");
                      sim.Run();
                      HPD_RETURN_IF_ERROR(SaveStack(env.db, s, sim.events()));
                      return Unit{};
                    })
      .status();
}

StatusOr<std::vector<StackSummary>> Account::ListStacks(const CallContext& ctx) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<std::vector<StackSummary>>(
      &ctx, [&](const Env& env) -> StatusOr<std::vector<StackSummary>> {
        HPD_ASSIGN_OR_RETURN(std::vector<StackRow> stacks, LiveStacks(env.db, ctx.region));
        std::vector<StackSummary> summaries;
        for (const StackRow& s : stacks) {
          summaries.push_back(
              StackSummary{s.stack_id, s.name, s.status, s.reason, ToWall(s.created_ns)});
        }
        return summaries;
      });
}

StatusOr<HyperPodCluster> Account::DescribeCluster(const CallContext& ctx,
                                                   std::string_view name_or_arn) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<HyperPodCluster>(&ctx, [&](const Env& env) -> StatusOr<HyperPodCluster> {
    HPD_ASSIGN_OR_RETURN(ClusterView view, FindCluster(env.db, ctx.region, name_or_arn));
    return view.cluster;
  });
}

StatusOr<std::vector<ClusterNode>> Account::ListClusterNodes(const CallContext& ctx,
                                                             std::string_view name_or_arn) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<std::vector<ClusterNode>>(
      &ctx, [&](const Env& env) -> StatusOr<std::vector<ClusterNode>> {
        HPD_ASSIGN_OR_RETURN(ClusterView view, FindCluster(env.db, ctx.region, name_or_arn));
        std::vector<ClusterNode> nodes;
        for (const InstanceGroup& g : view.cluster.instance_groups) {
          for (int64_t i = 0; i < g.current_count; ++i) {
            ClusterNode node;
            node.instance_id =
                "i-" + Hex(view.cluster.arn + "/" + g.name + "/" + std::to_string(i), 17);
            node.instance_group_name = g.name;
            node.instance_type = g.instance_type;
            node.launch_time = view.launch_time;
            if (g.status == "Degraded") {
              node.status = "Failure";
              node.message = "DeepHealthCheck failed: GPU stress test found a faulty device";
            } else if (g.status == "InService" || g.status == "Deleting") {
              node.status = "Running";
            } else {
              node.status = "Pending";
            }
            nodes.push_back(std::move(node));
          }
        }
        return nodes;
      });
}

StatusOr<std::vector<ClusterSummary>> Account::ListClusters(const CallContext& ctx) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<std::vector<ClusterSummary>>(
      &ctx, [&](const Env& env) -> StatusOr<std::vector<ClusterSummary>> {
        HPD_ASSIGN_OR_RETURN(std::vector<ClusterView> clusters, Clusters(env.db, ctx.region));
        std::vector<ClusterSummary> summaries;
        for (const ClusterView& view : clusters) {
          summaries.push_back(ClusterSummary{view.cluster.arn, view.cluster.name,
                                             view.cluster.status, view.cluster.created});
        }
        return summaries;
      });
}

StatusOr<EksCluster> Account::DescribeEksCluster(const CallContext& ctx, std::string_view name) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<EksCluster>(&ctx, [&](const Env& env) -> StatusOr<EksCluster> {
    HPD_ASSIGN_OR_RETURN(std::vector<StackRow> stacks, LiveStacks(env.db, ctx.region));
    return FindEks(stacks, name);
  });
}

StatusOr<std::vector<std::string>> Account::ListOpenIDConnectProviders(const CallContext& ctx) {
  return Call<std::vector<std::string>>(
      &ctx, [&](const Env& env) -> StatusOr<std::vector<std::string>> {
        HPD_ASSIGN_OR_RETURN(std::vector<StackRow> stacks, LiveStacks(env.db, ""));
        std::vector<std::string> arns;
        for (const StackRow& s : stacks) {
          for (const Res& r : s.res) {
            if (r.type == kOidcProvider && Exists(r.status) && r.status != "CREATE_IN_PROGRESS") {
              arns.push_back(r.physical_id);
            }
          }
        }
        return arns;
      });
}

StatusOr<Deployment> Account::GetDeployment(const CallContext& ctx,
                                            std::string_view eks_cluster_name,
                                            std::string_view namespace_name,
                                            std::string_view name) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<Deployment>(&ctx, [&](const Env& env) -> StatusOr<Deployment> {
    HPD_ASSIGN_OR_RETURN(std::vector<StackRow> stacks, LiveStacks(env.db, ctx.region));
    HPD_ASSIGN_OR_RETURN(EksCluster cluster, FindEks(stacks, eks_cluster_name));
    if (cluster.status != "ACTIVE") {
      return Named(NotFoundError("cluster " + cluster.name + " is " + cluster.status +
                                 "; its Kubernetes API is not reachable"),
                   "ResourceNotFoundException");
    }
    for (const StackRow& s : stacks) {
      for (const Res& r : s.res) {
        if (r.type != kHelmChart || !Exists(r.status)) continue;
        if (StringAt(r.props, "ClusterName") != eks_cluster_name) continue;
        std::string ns = StringAt(r.props, "Namespace");
        if (ns.empty()) ns = "default";
        if (ns != namespace_name || StringAt(r.props, "Release") != name) continue;
        Deployment d;
        d.namespace_name = ns;
        d.name = std::string(name);
        d.replicas = 2;
        d.ready_replicas = r.status == "CREATE_IN_PROGRESS" ? 0 : 2;
        if (const auto* values = r.props.if_contains("Values"); values && values->is_object()) {
          if (const auto* sa = values->as_object().if_contains("serviceAccount");
              sa && sa->is_object()) {
            if (const auto* ann = sa->as_object().if_contains("annotations");
                ann && ann->is_object()) {
              d.service_account_role_arn = StringAt(ann->as_object(), "eks.amazonaws.com/role-arn");
            }
          }
        }
        return d;
      }
    }
    return Named(NotFoundError("deployments.apps \"" + std::string(name) + "\" not found"),
                 "NotFound");
  });
}

StatusOr<std::vector<LoadBalancer>> Account::DescribeLoadBalancers(const CallContext& ctx) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<std::vector<LoadBalancer>>(
      &ctx, [&](const Env& env) -> StatusOr<std::vector<LoadBalancer>> {
        HPD_ASSIGN_OR_RETURN(std::vector<StackRow> stacks, LiveStacks(env.db, ctx.region));
        std::vector<LoadBalancer> lbs;
        for (const StackRow& s : stacks) {
          for (const Res& r : s.res) {
            if (r.type != kLoadBalancer || !Exists(r.status)) continue;
            LoadBalancer lb;
            lb.arn = r.physical_id;
            lb.name = StringAt(r.attrs, "LoadBalancerName");
            lb.dns_name = StringAt(r.attrs, "DNSName");
            lb.type = StringAt(r.props, "Type");
            if (lb.type.empty()) lb.type = "network";
            lb.scheme = StringAt(r.props, "Scheme");
            if (lb.scheme.empty()) lb.scheme = "internal";
            lb.state = r.status == "CREATE_IN_PROGRESS" ? "provisioning" : "active";
            if (const auto* tags = r.props.if_contains("Tags"); tags && tags->is_array()) {
              for (const auto& tag : tags->as_array()) {
                if (!tag.is_object()) continue;
                lb.tags[StringAt(tag.as_object(), "Key")] = StringAt(tag.as_object(), "Value");
              }
            }
            lbs.push_back(std::move(lb));
          }
        }
        return lbs;
      });
}

StatusOr<std::vector<ServiceQuota>> Account::ListServiceQuotas(const CallContext& ctx,
                                                               std::string_view service_code) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<std::vector<ServiceQuota>>(
      &ctx, [&](const Env& env) -> StatusOr<std::vector<ServiceQuota>> {
        if (service_code != "sagemaker") {
          return Named(NotFoundError("The request failed because the specified service does not "
                                     "exist: " +
                                     std::string(service_code)),
                       "NoSuchResourceException");
        }
        HPD_RETURN_IF_ERROR(SeedQuotas(env.db, ctx.region));
        bool exhausted = false;
        if (!ctx.job_id.empty()) {
          HPD_ASSIGN_OR_RETURN(auto faults, LoadFaults(env.db, ctx.job_id));
          exhausted = faults.first.quota_exhausted;
        }
        int64_t usage = 0;
        if (exhausted) {
          HPD_ASSIGN_OR_RETURN(std::vector<ClusterView> clusters, Clusters(env.db, ctx.region));
          usage = Usage(clusters).total;
        }
        HPD_ASSIGN_OR_RETURN(
            Statement query,
            env.db.Prepare("SELECT service_code, quota_code, quota_name, value, unit, adjustable "
                           "FROM quotas WHERE region = ?1 AND service_code = ?2 ORDER BY "
                           "quota_code"));
        query.Bind(1, ctx.region).Bind(2, service_code);
        std::vector<ServiceQuota> quotas;
        while (true) {
          HPD_ASSIGN_OR_RETURN(bool row, query.Step());
          if (!row) break;
          ServiceQuota q{std::string(query.Text(0)), std::string(query.Text(1)),
                         std::string(query.Text(2)), ParseValue(query.Text(3)),
                         std::string(query.Text(4)), query.Int(5) != 0};
          if (exhausted) {
            if (q.quota_name == kTotalInstancesQuotaName) q.value = static_cast<double>(usage);
            if (q.quota_name.ends_with(" for cluster usage")) q.value = 0;
          }
          quotas.push_back(std::move(q));
        }
        query.Reset();
        return quotas;
      });
}

Status Account::SetServiceQuota(std::string_view region, std::string_view service_code,
                                std::string_view quota_name, double value) {
  if (!std::isfinite(value) || value < 0) {
    return InvalidArgumentError("quota value must be a finite number >= 0");
  }
  if (region.empty()) return RequireRegion(CallContext{});
  return Call<Unit>(nullptr,
                    [&](const Env& env) -> StatusOr<Unit> {
                      HPD_RETURN_IF_ERROR(SeedQuotas(env.db, region));
                      HPD_ASSIGN_OR_RETURN(
                          Statement upsert,
                          env.db.Prepare(
                              "INSERT INTO quotas (region, service_code, quota_code, quota_name, "
                              "value, unit, adjustable) VALUES (?1, ?2, ?3, ?4, ?5, 'None', 1) "
                              "ON CONFLICT (region, service_code, quota_name) DO UPDATE SET "
                              "value = excluded.value"));
                      const std::string code = QuotaCodeFor(quota_name);
                      const std::string text = FormatValue(value);
                      HPD_RETURN_IF_ERROR(upsert.Bind(1, region)
                                              .Bind(2, service_code)
                                              .Bind(3, code)
                                              .Bind(4, quota_name)
                                              .Bind(5, text)
                                              .Run());
                      return Unit{};
                    })
      .status();
}

StatusOr<HyperPodUsage> Account::GetHyperPodUsage(const CallContext& ctx) {
  HPD_RETURN_IF_ERROR(RequireRegion(ctx));
  return Call<HyperPodUsage>(&ctx, [&](const Env& env) -> StatusOr<HyperPodUsage> {
    HPD_ASSIGN_OR_RETURN(std::vector<ClusterView> clusters, Clusters(env.db, ctx.region));
    return Usage(clusters);
  });
}

StatusOr<std::vector<TaggedResource>> Account::GetResourcesForJob(const CallContext& ctx,
                                                                  std::string_view job_id) {
  return Call<std::vector<TaggedResource>>(
      &ctx, [&](const Env& env) -> StatusOr<std::vector<TaggedResource>> {
        HPD_ASSIGN_OR_RETURN(std::vector<StackRow> stacks, LiveStacks(env.db, ""));
        std::vector<TaggedResource> out;
        for (const StackRow& s : stacks) {
          auto tag = s.tags.find(std::string(kJobTag));
          if (tag == s.tags.end() || tag->second != job_id) continue;
          out.push_back(TaggedResource{s.stack_id, std::string(kStackType), s.name, s.name,
                                       s.region, s.status});
          for (const Res& r : s.res) {
            if (!Exists(r.status)) continue;
            out.push_back(TaggedResource{r.physical_id, r.type, r.logical_id, s.name, s.region,
                                         Shown(r.status)});
          }
        }
        return out;
      });
}

}  // namespace hpd::sandbox

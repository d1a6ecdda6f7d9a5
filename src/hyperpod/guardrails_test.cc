#include "hyperpod/guardrails.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/status_matchers.h"
#include "hyperpod/hyperpod_testing.h"
#include "hyperpod/presets.h"

namespace hpd::hyperpod {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr CheckStatus kPass = CheckStatus::kPass;
constexpr CheckStatus kWarn = CheckStatus::kWarn;
constexpr CheckStatus kFail = CheckStatus::kFail;

const std::vector<std::string> kCheckIds = {"name.cluster",
                                            "name.eks",
                                            "name.stack",
                                            "name.bucket",
                                            "name.parameter",
                                            "name.instance-group",
                                            "region.allowed",
                                            "preset.known",
                                            "overrides.bounded",
                                            "instance-types.allowed",
                                            "instance-count",
                                            "ebs.size",
                                            "fsx.size",
                                            "manifest.expressible",
                                            "timeout.bounded",
                                            "quota.instance-type",
                                            "quota.total-instances",
                                            "quota.per-cluster",
                                            "quota.ebs"};

std::string Describe(const GuardrailReport& report) {
  return SerializeJsonPretty(boost::json::value(report.ToJson()));
}

class GuardrailsTest : public ::testing::Test {
 protected:
  GuardrailsTest()
      : catalog_(LoadPresets().value()),
        request_(testing::SeedRequest()),
        quotas_(testing::AmpleQuotas()) {}

  GuardrailReport Run() const { return Evaluate(request_, catalog_, quotas_); }

  // The status of check `id`, with the report printed when the expectation fails.
  void ExpectCheck(const std::string& id, CheckStatus status, const std::string& message = "") {
    GuardrailReport report = Run();
    const GuardrailCheck* check = report.Find(id);
    ASSERT_NE(check, nullptr) << id;
    EXPECT_EQ(check->status, status) << Describe(report);
    if (!message.empty()) {
      EXPECT_THAT(check->message, HasSubstr(message)) << Describe(report);
    }
    EXPECT_EQ(report.passed, report.fail_count == 0);
  }

  // Replaces the catalog with the built-ins plus preset "custom": the built-in "small" with
  // generous limits, edited by `edit`, and selects it.
  void UseCustomPreset(const std::function<void(boost::json::object&)>& edit) {
    boost::json::object builtin = ParseJson(BuiltinPresetsJson())->as_object();
    boost::json::object preset = builtin["presets"].as_object()["small"].as_object();
    boost::json::object& limits = preset["limits"].as_object();
    limits["maxInstanceCountPerGroup"] = 10000;
    limits["maxEbsVolumeGb"] = 20000;
    limits["maxFsxStorageGiB"] = 100000;
    boost::json::array& allowed = preset["allowedInstanceTypes"].as_array();
    allowed.emplace_back("ml.g5.12xlarge");
    edit(preset);
    boost::json::object user{{"presets", boost::json::object{{"custom", preset}}}};
    PresetCatalog base = LoadPresets().value();
    auto catalog = ParsePresetCatalog(SerializeJson(boost::json::value(user)), "test", &base);
    ASSERT_THAT(catalog, IsOk());
    catalog_ = *catalog;
    request_.config.preset = "custom";
  }

  static boost::json::object& Group(boost::json::object& preset, std::size_t i = 0) {
    return preset["instanceGroups"].as_array()[i].as_object();
  }

  PresetCatalog catalog_;
  DeploymentRequest request_;
  QuotaSnapshot quotas_;
};

TEST_F(GuardrailsTest, TheSeedRequestPassesEveryCheckInOrder) {
  GuardrailReport report = Run();
  std::vector<std::string> ids;
  for (const auto& check : report.checks) ids.push_back(check.id);
  EXPECT_THAT(ids, ElementsAreArray(kCheckIds));
  EXPECT_TRUE(report.passed) << Describe(report);
  EXPECT_EQ(report.pass_count, static_cast<int>(kCheckIds.size())) << Describe(report);
  EXPECT_EQ(report.warn_count, 0);
  EXPECT_EQ(report.fail_count, 0);
}

TEST_F(GuardrailsTest, EveryBuiltinPresetPassesWithAmpleQuotas) {
  for (const std::string& name : catalog_.Names()) {
    request_.config.preset = name;
    GuardrailReport report = Run();
    EXPECT_TRUE(report.passed) << name << "\n" << Describe(report);
  }
}

TEST_F(GuardrailsTest, ToJsonCarriesCountsAndChecks) {
  request_.timeout_seconds = 10;
  boost::json::object json = Run().ToJson();
  EXPECT_EQ(json.at("passed"), false);
  EXPECT_EQ(json.at("counts").at("fail"), 1);
  EXPECT_EQ(json.at("counts").at("pass"), static_cast<int64_t>(kCheckIds.size() - 1));
  const boost::json::array& checks = json.at("checks").as_array();
  ASSERT_EQ(checks.size(), kCheckIds.size());
  const boost::json::object& timeout = checks[14].as_object();
  EXPECT_EQ(timeout.at("id"), "timeout.bounded");
  EXPECT_EQ(timeout.at("status"), "FAIL");
  EXPECT_EQ(timeout.at("details").at("timeoutSeconds"), 10);
  EXPECT_THAT(std::string(timeout.at("message").as_string()), HasSubstr("below the minimum"));
}

// name.cluster is the stem: config.name + "-1a2b3c4d" (9 characters).
TEST_F(GuardrailsTest, ClusterNameAt63PassesAnd64Fails) {
  request_.config.name = std::string(54, 'c');
  ExpectCheck("name.cluster", kPass);
  request_.config.name = std::string(55, 'c');
  ExpectCheck("name.cluster", kFail, "has 64 characters; it must have 1 to 63");
}

TEST_F(GuardrailsTest, ClusterNameWithBadCharactersFails) {
  for (const char* name : {"my_cluster", "my.cluster", "-lead", "sp ace"}) {
    request_.config.name = name;
    ExpectCheck("name.cluster", kFail);
  }
  request_.config.name = "My-Cluster--9";
  ExpectCheck("name.cluster", kPass);
}

// name.eks is stem + "-eks".
TEST_F(GuardrailsTest, EksNameAt100PassesAnd101Fails) {
  request_.config.name = std::string(87, 'e');
  ExpectCheck("name.eks", kPass);
  request_.config.name = std::string(88, 'e');
  ExpectCheck("name.eks", kFail, "has 101 characters; it must have 1 to 100");
  request_.config.name = "_lead";
  ExpectCheck("name.eks", kFail, "must start with a letter or digit");
}

// name.stack is "hpd-" + stem.
TEST_F(GuardrailsTest, StackNameAt128PassesAnd129Fails) {
  request_.config.name = std::string(115, 's');
  ExpectCheck("name.stack", kPass);
  request_.config.name = std::string(116, 's');
  ExpectCheck("name.stack", kFail, "has 129 characters; it must have 1 to 128");
  request_.config.name = "under_score";
  ExpectCheck("name.stack", kFail, "only letters, digits and '-'");
}

struct BucketCase {
  std::string bucket;
  CheckStatus status;
  friend void PrintTo(const BucketCase& c, std::ostream* os) {
    *os << '"' << c.bucket << "\" " << CheckStatusName(c.status);
  }
};

class BucketGuardrailTest : public GuardrailsTest,
                            public ::testing::WithParamInterface<BucketCase> {};

TEST_P(BucketGuardrailTest, FollowsS3Rules) {
  request_.config_bucket = GetParam().bucket;
  ExpectCheck("name.bucket", GetParam().status);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BucketGuardrailTest,
    ::testing::Values(BucketCase{"abc", kPass}, BucketCase{std::string(63, 'b'), kPass},
                      BucketCase{"ab", kFail}, BucketCase{std::string(64, 'b'), kFail},
                      BucketCase{"Upper", kFail}, BucketCase{"a..b", kFail},
                      BucketCase{"-ab", kFail}, BucketCase{"ab-", kFail},
                      BucketCase{"192.168.1.1", kFail}, BucketCase{"xn--abc", kFail},
                      BucketCase{"sthree-abc", kFail}, BucketCase{"amzn-s3-demo-abc", kFail},
                      BucketCase{"abc-s3alias", kFail}, BucketCase{"abc--ol-s3", kFail},
                      BucketCase{"abc.mrap", kFail}, BucketCase{"abc--x-s3", kFail},
                      BucketCase{"my.bucket-1", kPass}));

TEST_F(GuardrailsTest, BucketMessageNamesTheConfigObject) {
  request_.config_bucket = "ab";
  ExpectCheck("name.bucket", kFail,
              "(config object s3://ab/1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d/config.json)");
}

// The longest parameter checked is <prefix>/<jobId (36)>/<64-character key>: prefix + 102.
TEST_F(GuardrailsTest, ParameterNamesOf1011CharactersPassAnd1012Fail) {
  request_.parameter_prefix = "/" + std::string(908, 'p');
  ExpectCheck("name.parameter", kPass);
  request_.parameter_prefix = "/" + std::string(909, 'p');
  ExpectCheck("name.parameter", kFail, "at most 1011 characters; it has 1012");
}

// The longest parameter has the prefix's levels + 2.
TEST_F(GuardrailsTest, ParameterNamesOf15LevelsPassAnd16Fail) {
  std::string prefix;
  for (int i = 0; i < 13; ++i) prefix += "/l";
  request_.parameter_prefix = prefix;
  ExpectCheck("name.parameter", kPass);
  request_.parameter_prefix = prefix + "/l";
  ExpectCheck("name.parameter", kFail, "maximum of 15 levels");
}

TEST_F(GuardrailsTest, ParameterPrefixMayNotStartWithAwsOrSsm) {
  for (const char* prefix : {"/aws/hyperpod", "/AWS", "/ssm/x", "/SsM", "awsx"}) {
    request_.parameter_prefix = prefix;
    ExpectCheck("name.parameter", kFail, "can't be prefixed with \"aws\" or \"ssm\"");
  }
  request_.parameter_prefix = "/perf-eval/as";
  ExpectCheck("name.parameter", kPass);
}

TEST_F(GuardrailsTest, ParameterPrefixMustBeFullyQualified) {
  request_.parameter_prefix = "perf-eval";
  ExpectCheck("name.parameter", kFail, "fully qualified");
}

TEST_F(GuardrailsTest, JobIdMustBeOneParameterLevel) {
  request_.job_id = "a/b";
  ExpectCheck("name.parameter", kFail, "jobId \"a/b\" must be one or more letters");
  request_.job_id = "a_b.c-D";
  ExpectCheck("name.parameter", kPass);
}

TEST_F(GuardrailsTest, InstanceGroupNameAt63PassesAnd64Fails) {
  UseCustomPreset([](boost::json::object& p) { Group(p)["name"] = std::string(63, 'g'); });
  ExpectCheck("name.instance-group", kPass);
  UseCustomPreset([](boost::json::object& p) { Group(p)["name"] = std::string(64, 'g'); });
  ExpectCheck("name.instance-group", kFail, "Instance group name");
  UseCustomPreset([](boost::json::object& p) { Group(p)["name"] = "gpu_1"; });
  ExpectCheck("name.instance-group", kFail, "only letters, digits and '-'");
}

class RegionGuardrailTest : public GuardrailsTest,
                            public ::testing::WithParamInterface<std::string> {};

TEST_P(RegionGuardrailTest, EveryHyperPodRegionIsAllowed) {
  request_.config.region = GetParam();
  ExpectCheck("region.allowed", kPass);
}

INSTANTIATE_TEST_SUITE_P(HyperPodRegions, RegionGuardrailTest,
                         ::testing::Values("us-east-1", "us-east-2", "us-west-1", "us-west-2",
                                           "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2",
                                           "eu-south-2", "ap-south-1", "ap-southeast-1",
                                           "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
                                           "ap-northeast-1", "sa-east-1"));

TEST_F(GuardrailsTest, OtherRegionsFail) {
  for (const char* region :
       {"eu-west-3", "ap-northeast-2", "us-gov-west-1", "cn-north-1", "US-WEST-2", ""}) {
    request_.config.region = region;
    ExpectCheck("region.allowed", kFail, "is not one of the regions SageMaker HyperPod");
  }
}

TEST_F(GuardrailsTest, UnknownPresetFailsAndListsTheKnownOnes) {
  request_.config.preset = "xl";
  GuardrailReport report = Run();
  EXPECT_FALSE(report.passed);
  EXPECT_EQ(report.fail_count, 1) << Describe(report);
  const GuardrailCheck* known = report.Find("preset.known");
  ASSERT_NE(known, nullptr);
  EXPECT_EQ(known->status, kFail);
  EXPECT_THAT(known->message,
              HasSubstr("Preset \"xl\" is not known; known presets: large, medium, small."));
  for (const char* id : {"overrides.bounded", "fsx.size", "quota.ebs", "name.instance-group"}) {
    EXPECT_EQ(report.Find(id)->status, kWarn) << id;
    EXPECT_THAT(report.Find(id)->message, HasSubstr("Not evaluated")) << id;
  }
  std::vector<std::string> ids;
  for (const auto& check : report.checks) ids.push_back(check.id);
  EXPECT_THAT(ids, ElementsAreArray(kCheckIds));
}

TEST_F(GuardrailsTest, NoPresetMeansTheDefault) {
  request_.config.preset = "";
  ExpectCheck("preset.known", kPass, "small (the default)");
}

struct OverrideCase {
  std::string name;
  std::string key;
  OverrideValue value;
  CheckStatus status;
  std::string message;  // expected in the check's message when not PASS
};

class OverrideGuardrailTest : public GuardrailsTest,
                              public ::testing::WithParamInterface<OverrideCase> {};

// Bounds of the built-in "small": maxInstanceCountPerGroup 4, maxEbsVolumeGb 1000,
// maxFsxStorageGiB 4800, maxEksNodes 5, kubernetesVersions 1.30-1.33; eks 2..3.
TEST_P(OverrideGuardrailTest, ChecksKeyTypeAndBounds) {
  request_.config.overrides[GetParam().key] = GetParam().value;
  ExpectCheck("overrides.bounded", GetParam().status, GetParam().message);
  if (GetParam().status == kFail) {
    EXPECT_THAT(Run().Find("overrides.bounded")->message, HasSubstr(GetParam().key));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OverrideGuardrailTest,
    ::testing::Values(
        OverrideCase{"CountAtLimit", "instanceGroups.accelerated.count", int64_t{4}, kPass, ""},
        OverrideCase{"CountPastLimit", "instanceGroups.accelerated.count", int64_t{5}, kFail,
                     "= 5 exceeds preset \"small\"'s limit maxInstanceCountPerGroup = 4"},
        OverrideCase{"CountAtMinimum", "instanceGroups.accelerated.count", int64_t{1}, kPass, ""},
        OverrideCase{"CountBelowMinimum", "instanceGroups.accelerated.count", int64_t{0}, kFail,
                     "= 0 is below the minimum of 1"},
        OverrideCase{"CountAsString", "instanceGroups.accelerated.count", std::string("4"), kFail,
                     "must be an integer, got \"4\""},
        OverrideCase{"CountFractional", "instanceGroups.accelerated.count", 2.5, kFail,
                     "must be an integer, got 2.5"},
        OverrideCase{"EbsAtLimit", "ebsVolumeGb", int64_t{1000}, kPass, ""},
        OverrideCase{"EbsPastLimit", "ebsVolumeGb", int64_t{1001}, kFail,
                     "exceeds preset \"small\"'s limit maxEbsVolumeGb = 1000"},
        OverrideCase{"GroupEbsAtLimit", "instanceGroups.accelerated.ebsVolumeGb", int64_t{1000},
                     kPass, ""},
        OverrideCase{"GroupEbsPastLimit", "instanceGroups.accelerated.ebsVolumeGb", int64_t{1001},
                     kFail, "maxEbsVolumeGb = 1000"},
        OverrideCase{"EbsZero", "ebsVolumeGb", int64_t{0}, kFail, "below the minimum of 1"},
        OverrideCase{"FsxAtLimit", "fsx.storageGiB", int64_t{4800}, kPass, ""},
        OverrideCase{"FsxPastLimit", "fsx.storageGiB", int64_t{7200}, kFail,
                     "maxFsxStorageGiB = 4800"},
        OverrideCase{"FsxAtMinimum", "fsx.storageGiB", int64_t{1200}, kPass, ""},
        OverrideCase{"FsxBelowMinimum", "fsx.storageGiB", int64_t{1199}, kFail,
                     "below the minimum of 1200"},
        OverrideCase{"FsxType", "fsx.deploymentType", std::string("SCRATCH_1"), kFail,
                     "is not SCRATCH_2, PERSISTENT_1 or PERSISTENT_2"},
        OverrideCase{"ThroughputPastMaximum", "fsx.perUnitStorageThroughput", int64_t{1001}, kFail,
                     "exceeds the maximum of 1000"},
        OverrideCase{"EksMaxAtLimit", "eks.maxSize", int64_t{5}, kPass, ""},
        OverrideCase{"EksMaxPastLimit", "eks.maxSize", int64_t{6}, kFail, "maxEksNodes = 5"},
        OverrideCase{"EksMinAboveMax", "eks.minSize", int64_t{4}, kFail,
                     "leaves eks.minSize (4) above eks.maxSize (3)"},
        OverrideCase{"EksMinZero", "eks.minSize", int64_t{0}, kFail, "below the minimum of 1"},
        OverrideCase{"EksTypes", "eks.nodeInstanceTypes", std::string("m5.large, m5.xlarge"), kPass,
                     ""},
        OverrideCase{"EksTypesEmpty", "eks.nodeInstanceTypes", std::string(" , "), kFail,
                     "at least one instance type"},
        OverrideCase{"ThreadsPerCoreTwo", "instanceGroups.accelerated.threadsPerCore", int64_t{2},
                     kPass, ""},
        OverrideCase{"ThreadsPerCoreThree", "instanceGroups.accelerated.threadsPerCore", int64_t{3},
                     kFail, "exceeds the maximum of 2"},
        OverrideCase{"KubernetesAllowed", "kubernetesVersion", std::string("1.30"), kPass, ""},
        OverrideCase{"KubernetesNotAllowed", "kubernetesVersion", std::string("1.29"), kFail,
                     "\"1.29\" is not one of the versions preset \"small\" allows"},
        OverrideCase{"KubernetesAsNumber", "kubernetesVersion", 1.32, kFail,
                     "must be a string, got 1.32"},
        OverrideCase{"InstanceType", "instanceGroups.accelerated.instanceType",
                     std::string("ml.g5.12xlarge"), kPass, ""},
        OverrideCase{"UnknownKey", "vpc.cidrBlock", std::string("10.0.0.0/16"), kFail,
                     "Override key \"vpc.cidrBlock\" is not a known override."},
        OverrideCase{"UnknownGroup", "instanceGroups.general.count", int64_t{1}, kFail,
                     "names group \"general\", which preset \"small\" does not have "
                     "(groups: accelerated)"},
        OverrideCase{"UnknownGroupField", "instanceGroups.accelerated.colour", std::string("red"),
                     kFail, "a group takes count, instanceType"},
        OverrideCase{"BareGroupKey", "instanceGroups.accelerated", int64_t{1}, kFail,
                     "group keys look like instanceGroups.<group>.count"}),
    [](const ::testing::TestParamInfo<OverrideCase>& p) { return p.param.name; });

TEST_F(GuardrailsTest, OverridesAreReportedTogether) {
  request_.config.overrides["a.b"] = int64_t{1};
  request_.config.overrides["instanceGroups.accelerated.count"] = int64_t{9};
  GuardrailReport report = Run();
  const GuardrailCheck* check = report.Find("overrides.bounded");
  EXPECT_EQ(check->status, kFail);
  EXPECT_EQ(check->details.at("problems").as_array().size(), 2u);
  // The out-of-bounds value is still what other checks judge.
  EXPECT_EQ(
      report.Find("quota.instance-type")->details.at("types").at("ml.g5.8xlarge").at("requested"),
      9);
}

TEST_F(GuardrailsTest, InstanceTypeMustBeInThePresetAllowlist) {
  request_.config.overrides["instanceGroups.accelerated.instanceType"] =
      std::string("ml.p5.48xlarge");
  ExpectCheck("instance-types.allowed", kFail,
              "Instance group \"accelerated\" uses ml.p5.48xlarge, which preset \"small\" does "
              "not allow");
  request_.config.overrides["instanceGroups.accelerated.instanceType"] =
      std::string("ml.g5.12xlarge");
  ExpectCheck("instance-types.allowed", kPass);
}

TEST_F(GuardrailsTest, InstanceCountAt6758PassesAnd6759Fails) {
  quotas_.quotas_by_name[InstanceTypeQuotaName("ml.g5.8xlarge")] = 100000;
  request_.config.overrides["instanceGroups.accelerated.count"] = int64_t{6758};
  UseCustomPreset([](boost::json::object&) {});
  ExpectCheck("instance-count", kPass);
  request_.config.overrides["instanceGroups.accelerated.count"] = int64_t{6759};
  ExpectCheck("instance-count", kFail, "asks for 6759 instances; a group takes 0 to 6758");
}

TEST_F(GuardrailsTest, ZeroInstancesInAPresetAreWithinTheApiRange) {
  UseCustomPreset([](boost::json::object& p) { Group(p)["count"] = 0; });
  ExpectCheck("instance-count", kPass);
}

TEST_F(GuardrailsTest, EbsAt16384PassesAnd16385Fails) {
  UseCustomPreset([](boost::json::object&) {});
  request_.config.overrides["ebsVolumeGb"] = int64_t{16384};
  ExpectCheck("ebs.size", kPass);
  request_.config.overrides["ebsVolumeGb"] = int64_t{16385};
  ExpectCheck("ebs.size", kFail,
              "asks for an EBS volume of 16385 GB; HyperPod takes 1 to 16384 GB");
}

struct FsxCase {
  std::string type;
  int64_t storage;
  int64_t throughput;
  CheckStatus status;
  friend void PrintTo(const FsxCase& c, std::ostream* os) {
    *os << c.type << ' ' << c.storage << " GiB @" << c.throughput << ' '
        << CheckStatusName(c.status);
  }
};

class FsxGuardrailTest : public GuardrailsTest, public ::testing::WithParamInterface<FsxCase> {};

TEST_P(FsxGuardrailTest, SizeStepsAndThroughput) {
  UseCustomPreset([](boost::json::object&) {});
  request_.config.overrides["fsx.deploymentType"] = GetParam().type;
  request_.config.overrides["fsx.storageGiB"] = GetParam().storage;
  request_.config.overrides["fsx.perUnitStorageThroughput"] = GetParam().throughput;
  ExpectCheck("fsx.size", GetParam().status);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FsxGuardrailTest,
    ::testing::Values(
        FsxCase{"SCRATCH_2", 1200, 0, kPass}, FsxCase{"SCRATCH_2", 2400, 0, kPass},
        FsxCase{"SCRATCH_2", 4800, 0, kPass}, FsxCase{"SCRATCH_2", 9600, 0, kPass},
        FsxCase{"SCRATCH_2", 1300, 0, kFail}, FsxCase{"SCRATCH_2", 3600, 0, kFail},
        FsxCase{"SCRATCH_2", 2401, 0, kFail}, FsxCase{"PERSISTENT_2", 1200, 125, kPass},
        FsxCase{"PERSISTENT_2", 2400, 250, kPass}, FsxCase{"PERSISTENT_2", 4800, 500, kPass},
        FsxCase{"PERSISTENT_2", 4800, 1000, kPass}, FsxCase{"PERSISTENT_2", 4800, 200, kFail},
        FsxCase{"PERSISTENT_2", 3600, 250, kFail}, FsxCase{"PERSISTENT_1", 2400, 50, kPass},
        FsxCase{"PERSISTENT_1", 2400, 200, kPass}, FsxCase{"PERSISTENT_1", 2400, 125, kFail}));

TEST_F(GuardrailsTest, FsxMessagesNameSizeAndThroughput) {
  request_.config.overrides["fsx.storageGiB"] = int64_t{3600};
  ExpectCheck("fsx.size", kFail,
              "storage of 3600 GiB is not valid for SCRATCH_2 SSD: it must be 1200, 2400 or a "
              "multiple of 2400 GiB");
  request_.config.overrides["fsx.storageGiB"] = int64_t{2400};
  request_.config.overrides["fsx.deploymentType"] = std::string("PERSISTENT_2");
  request_.config.overrides["fsx.perUnitStorageThroughput"] = int64_t{200};
  ExpectCheck("fsx.size", kFail,
              "PERSISTENT_2 throughput of 200 MB/s/TiB is not one of 125, 250, "
              "500, 1000");
}

TEST_F(GuardrailsTest, MoreThanOneGroupCannotBeExpressed) {
  UseCustomPreset([](boost::json::object& p) {
    boost::json::object general = Group(p);
    general["name"] = "general";
    p["instanceGroups"].as_array().push_back(general);
  });
  ExpectCheck("manifest.expressible", kFail, "has 2 instance groups (accelerated, general)");
}

TEST_F(GuardrailsTest, DeepHealthChecksWarn) {
  request_.config.preset = "large";
  ExpectCheck("manifest.expressible", kWarn, "InstanceStress, InstanceConnectivity");
  request_.config.preset = "small";
  ExpectCheck("manifest.expressible", kPass);
}

struct TimeoutCase {
  int64_t seconds;
  CheckStatus status;
  friend void PrintTo(const TimeoutCase& c, std::ostream* os) {
    *os << c.seconds << "s " << CheckStatusName(c.status);
  }
};

class TimeoutGuardrailTest : public GuardrailsTest,
                             public ::testing::WithParamInterface<TimeoutCase> {};

TEST_P(TimeoutGuardrailTest, IsBounded) {
  request_.timeout_seconds = GetParam().seconds;
  ExpectCheck("timeout.bounded", GetParam().status);
}

INSTANTIATE_TEST_SUITE_P(Cases, TimeoutGuardrailTest,
                         ::testing::Values(TimeoutCase{1, kFail}, TimeoutCase{1799, kFail},
                                           TimeoutCase{1800, kWarn}, TimeoutCase{3599, kWarn},
                                           TimeoutCase{3600, kPass}, TimeoutCase{86400, kPass},
                                           TimeoutCase{86401, kFail}));

// "small" asks for 2 x ml.g5.8xlarge with 500 GB of EBS each.
TEST_F(GuardrailsTest, InstanceTypeQuotaExactlyAtTheLimitFitsWithAWarning) {
  quotas_.quotas_by_name[InstanceTypeQuotaName("ml.g5.8xlarge")] = 2;
  ExpectCheck("quota.instance-type", kWarn, "leaves 0 of quota");
  quotas_.quotas_by_name[InstanceTypeQuotaName("ml.g5.8xlarge")] = 1;
  ExpectCheck("quota.instance-type", kFail,
              "ml.g5.8xlarge: 2 requested, but quota \"ml.g5.8xlarge for cluster usage\" is 1 "
              "with 0 in use, leaving 1.");
}

TEST_F(GuardrailsTest, InstanceTypeQuotaCountsUsage) {
  quotas_.quotas_by_name[InstanceTypeQuotaName("ml.g5.8xlarge")] = 10;
  quotas_.usage_by_type["ml.g5.8xlarge"] = 8;
  ExpectCheck("quota.instance-type", kWarn);
  quotas_.usage_by_type["ml.g5.8xlarge"] = 9;
  ExpectCheck("quota.instance-type", kFail, "with 9 in use, leaving 1");
}

TEST_F(GuardrailsTest, InstanceTypeQuotaWarnsUnderTwentyPercentHeadroom) {
  quotas_.quotas_by_name[InstanceTypeQuotaName("ml.g5.8xlarge")] = 100;
  quotas_.usage_by_type["ml.g5.8xlarge"] = 78;  // 20 left after the request: exactly 20%
  ExpectCheck("quota.instance-type", kPass);
  quotas_.usage_by_type["ml.g5.8xlarge"] = 79;  // 19 left
  ExpectCheck("quota.instance-type", kWarn, "under 20% headroom");
}

TEST_F(GuardrailsTest, InstanceTypeQuotaSumsGroupsOfTheSameType) {
  quotas_.quotas_by_name[InstanceTypeQuotaName("ml.g5.8xlarge")] = 4;
  UseCustomPreset([](boost::json::object& p) {
    boost::json::object second = Group(p);
    second["name"] = "second";
    second["count"] = 3;
    p["instanceGroups"].as_array().push_back(second);
  });
  ExpectCheck("quota.instance-type", kFail, "5 requested");
}

TEST_F(GuardrailsTest, MissingQuotaWarns) {
  quotas_.quotas_by_name.erase(InstanceTypeQuotaName("ml.g5.8xlarge"));
  ExpectCheck("quota.instance-type", kWarn,
              "Quota \"ml.g5.8xlarge for cluster usage\" was not found");
  quotas_.quotas_by_name.erase(std::string(kTotalInstancesQuotaName));
  ExpectCheck("quota.total-instances", kWarn, "was not found");
  quotas_.quotas_by_name.erase(std::string(kPerClusterQuotaName));
  ExpectCheck("quota.per-cluster", kWarn, "was not found");
  quotas_.quotas_by_name.erase(std::string(kEbsQuotaName));
  ExpectCheck("quota.ebs", kWarn, "was not found");
}

TEST_F(GuardrailsTest, TotalInstancesQuotaAtTheLimitAndOneOver) {
  quotas_.quotas_by_name[std::string(kTotalInstancesQuotaName)] = 12;
  quotas_.total_usage = 10;
  ExpectCheck("quota.total-instances", kWarn);
  quotas_.total_usage = 11;
  ExpectCheck("quota.total-instances", kFail,
              "2 requested, but quota \"Total number of instances "
              "allowed across SageMaker HyperPod clusters\" is 12");
}

TEST_F(GuardrailsTest, TotalInstancesQuotaOfZeroFails) {
  quotas_.quotas_by_name[std::string(kTotalInstancesQuotaName)] = 0;
  ExpectCheck("quota.total-instances", kFail);
}

TEST_F(GuardrailsTest, PerClusterQuotaAtTheLimitAndOneOver) {
  quotas_.quotas_by_name[std::string(kPerClusterQuotaName)] = 2;
  quotas_.total_usage = 100;  // other clusters do not count against this one
  ExpectCheck("quota.per-cluster", kPass);
  quotas_.quotas_by_name[std::string(kPerClusterQuotaName)] = 1;
  ExpectCheck("quota.per-cluster", kFail, "Instances in this cluster: 2 requested");
}

TEST_F(GuardrailsTest, EbsQuotaAtTheLimitAndOneOver) {
  quotas_.quotas_by_name[std::string(kEbsQuotaName)] = 500;
  ExpectCheck("quota.ebs", kPass);
  quotas_.quotas_by_name[std::string(kEbsQuotaName)] = 499;
  ExpectCheck("quota.ebs", kFail, "asks for 500 GB of EBS per instance, but quota");
}

TEST_F(GuardrailsTest, QuotaChecksOffSkipsEveryQuotaCheckWithAWarning) {
  quotas_.quotas_by_name[InstanceTypeQuotaName("ml.g5.8xlarge")] = 0;
  quotas_.quotas_by_name[std::string(kEbsQuotaName)] = 1;
  request_.quota_checks = false;
  GuardrailReport report = Run();
  EXPECT_TRUE(report.passed) << Describe(report);
  for (const char* id :
       {"quota.instance-type", "quota.total-instances", "quota.per-cluster", "quota.ebs"}) {
    EXPECT_EQ(report.Find(id)->status, kWarn) << id;
    EXPECT_THAT(report.Find(id)->message, HasSubstr("skipped at the requester's request")) << id;
  }
  EXPECT_EQ(report.warn_count, 4);
}

TEST_F(GuardrailsTest, UnavailableQuotasWarn) {
  quotas_.available = false;
  GuardrailReport report = Run();
  EXPECT_TRUE(report.passed);
  EXPECT_THAT(report.Find("quota.total-instances")->message,
              HasSubstr("Service Quotas could not be read"));
  EXPECT_EQ(report.warn_count, 4);
}

TEST_F(GuardrailsTest, EvaluationIsDeterministic) {
  request_.config.overrides["fsx.storageGiB"] = int64_t{3600};
  EXPECT_EQ(SerializeJson(boost::json::value(Run().ToJson())),
            SerializeJson(boost::json::value(Run().ToJson())));
}

}  // namespace
}  // namespace hpd::hyperpod

#include "hyperpod/manifest.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/status_matchers.h"
#include "hyperpod/deployment.h"
#include "hyperpod/hyperpod_testing.h"

namespace hpd::hyperpod {
namespace {

using ::testing::HasSubstr;

class ManifestTest : public ::testing::Test {
 protected:
  ManifestTest() : catalog_(LoadPresets().value()), request_(testing::SeedRequest()) {}

  boost::json::object Build() {
    auto resolved = Resolve(request_, catalog_);
    EXPECT_THAT(resolved, IsOk());
    return BuildManifest(*resolved);
  }

  static const boost::json::object& Instance(const boost::json::object& manifest,
                                             const char* forge) {
    return manifest.at("forges").at(forge).at("instances").at(0).as_object();
  }

  PresetCatalog catalog_;
  DeploymentRequest request_;
};

TEST_F(ManifestTest, HasInfraForgesTopLevelShape) {
  boost::json::object m = Build();
  ASSERT_EQ(m.size(), 3u);
  const boost::json::object& global = m.at("global").as_object();
  EXPECT_EQ(global.at("stackName"), "hpd-hp-1a2b3c4d");
  EXPECT_EQ(global.at("dualStack"), true);
  EXPECT_THAT(std::string(global.at("description").as_string()),
              HasSubstr("preset small (2 x ml.g5.8xlarge) in us-west-2, requested by alice"));
  EXPECT_EQ(m.at("enabledForges"), (boost::json::array{"fsx", "hp-1a2b3c4d-eks", "hyperpod"}));
  const boost::json::object& forges = m.at("forges").as_object();
  EXPECT_EQ(forges.size(), 4u);
  for (const char* forge : {"vpc", "lustre", "eks", "hyperpod"}) {
    EXPECT_TRUE(forges.at(forge).as_object().contains("defaults")) << forge;
  }
  EXPECT_FALSE(forges.at("vpc").as_object().contains("instances"));
}

TEST_F(ManifestTest, EveryEnabledForgeIsAnInstanceId) {
  boost::json::object m = Build();
  std::vector<std::string> ids;
  for (const auto& [forge, config] : m.at("forges").as_object()) {
    if (!config.as_object().contains("instances")) continue;
    for (const auto& instance : config.at("instances").as_array()) {
      ids.emplace_back(instance.at("id").as_string());
    }
  }
  for (const auto& id : m.at("enabledForges").as_array()) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), std::string(id.as_string())), ids.end()) << id;
  }
}

TEST_F(ManifestTest, LustreInstanceCarriesTheFileSystem) {
  boost::json::object m = Build();
  const boost::json::object& fsx = Instance(m, "lustre");
  EXPECT_EQ(fsx.at("id"), "fsx");
  EXPECT_EQ(fsx.at("deploymentType"), "SCRATCH_2");
  EXPECT_EQ(fsx.at("storageCapacityGiB"), 1200);
  EXPECT_FALSE(fsx.contains("perUnitStorageThroughput"));  // none for SCRATCH_2
  EXPECT_EQ(m.at("forges").at("lustre").at("defaults").at("type"), "LUSTRE");
}

TEST_F(ManifestTest, PersistentLustreCarriesThroughput) {
  request_.config.preset = "large";
  boost::json::object m = Build();
  const boost::json::object& fsx = Instance(m, "lustre");
  EXPECT_EQ(fsx.at("deploymentType"), "PERSISTENT_2");
  EXPECT_EQ(fsx.at("storageCapacityGiB"), 4800);
  EXPECT_EQ(fsx.at("perUnitStorageThroughput"), 500);
}

TEST_F(ManifestTest, EksInstanceIsNamedAfterTheClusterAndDependsOnLustre) {
  boost::json::object m = Build();
  const boost::json::object& eks = Instance(m, "eks");
  EXPECT_EQ(eks.at("id"), "hp-1a2b3c4d-eks");
  EXPECT_EQ(eks.at("eksVersion"), "1.33");
  EXPECT_EQ(eks.at("dependsOn"), "LUSTRE:fsx");
  EXPECT_EQ(eks.at("enableHyperPodComponents"), true);
  EXPECT_EQ(eks.at("instanceTypes"), "m5.2xlarge");
  EXPECT_EQ(eks.at("minSize"), 2);
  EXPECT_EQ(eks.at("maxSize"), 3);
  EXPECT_EQ(eks.at("keyName"), "hpd-hp-1a2b3c4d");
  const boost::json::object& defaults = m.at("forges").at("eks").at("defaults").as_object();
  EXPECT_EQ(defaults.at("type"), "EKS");
  EXPECT_FALSE(defaults.at("awsLoadBalancerControllerVersion").as_string().empty());
}

TEST_F(ManifestTest, HyperPodInstanceCarriesTheGroupWithNonZeroValues) {
  boost::json::object m = Build();
  const boost::json::object& hp = Instance(m, "hyperpod");
  EXPECT_EQ(hp.at("id"), "hyperpod");
  EXPECT_EQ(hp.at("clusterName"), "hp-1a2b3c4d");
  EXPECT_EQ(hp.at("dependsOn"), "EKS:hp-1a2b3c4d-eks");
  EXPECT_EQ(hp.at("instanceGroupName"), "accelerated");
  EXPECT_EQ(hp.at("instanceType"), "ml.g5.8xlarge");
  EXPECT_EQ(hp.at("instanceCount"), 2);
  EXPECT_EQ(hp.at("threadsPerCore"), 1);
  EXPECT_EQ(hp.at("ebsVolumeSizeGb"), 500);
  EXPECT_EQ(hp.at("eksVersion"), "1.33");
  const boost::json::object& defaults = m.at("forges").at("hyperpod").at("defaults").as_object();
  EXPECT_EQ(defaults.at("type"), "HYPERPOD");
  EXPECT_EQ(defaults.at("nodeRecovery"), "Automatic");
  EXPECT_FALSE(defaults.at("executionRolePolicies").as_string().empty());
}

// InfraForge ignores zero values in an instance, so none may appear there.
TEST_F(ManifestTest, NoInstanceValueIsZeroOrEmpty) {
  for (const char* preset : {"small", "medium", "large"}) {
    request_.config.preset = preset;
    boost::json::object m = Build();
    for (const char* forge : {"lustre", "eks", "hyperpod"}) {
      for (const auto& [key, value] : Instance(m, forge)) {
        EXPECT_FALSE(value.is_int64() && value.get_int64() == 0)
            << preset << " " << forge << "." << key;
        EXPECT_FALSE(value.is_string() && value.get_string().empty())
            << preset << " " << forge << "." << key;
        EXPECT_FALSE(value.is_bool() && !value.get_bool()) << preset << " " << forge << "." << key;
      }
    }
  }
}

TEST_F(ManifestTest, OverridesReachTheManifest) {
  request_.config.overrides["instanceGroups.accelerated.count"] = int64_t{4};
  request_.config.overrides["instanceGroups.accelerated.instanceType"] =
      std::string("ml.g5.12xlarge");
  request_.config.overrides["ebsVolumeGb"] = int64_t{1000};
  request_.config.overrides["fsx.storageGiB"] = int64_t{2400};
  request_.config.overrides["kubernetesVersion"] = std::string("1.32");
  request_.config.overrides["eks.nodeInstanceTypes"] = std::string("m5.large, m5.xlarge");
  boost::json::object m = Build();
  EXPECT_EQ(Instance(m, "hyperpod").at("instanceCount"), 4);
  EXPECT_EQ(Instance(m, "hyperpod").at("instanceType"), "ml.g5.12xlarge");
  EXPECT_EQ(Instance(m, "hyperpod").at("ebsVolumeSizeGb"), 1000);
  EXPECT_EQ(Instance(m, "hyperpod").at("eksVersion"), "1.32");
  EXPECT_EQ(Instance(m, "lustre").at("storageCapacityGiB"), 2400);
  EXPECT_EQ(Instance(m, "eks").at("eksVersion"), "1.32");
  EXPECT_EQ(Instance(m, "eks").at("instanceTypes"), "m5.large,m5.xlarge");
}

TEST(Resolve, UnknownPresetIsAnError) {
  DeploymentRequest request = testing::SeedRequest();
  request.config.preset = "xl";
  auto resolved = Resolve(request, LoadPresets().value());
  EXPECT_THAT(resolved, StatusIs(StatusCode::kInvalidArgument,
                                 HasSubstr("Preset \"xl\" is not known; known presets: large, "
                                           "medium, small.")));
  EXPECT_EQ(resolved.status().error_name(), "UnknownPreset");
}

TEST(Resolve, InvalidOverridesAreAnError) {
  DeploymentRequest request = testing::SeedRequest();
  request.config.overrides["nope"] = int64_t{1};
  request.config.overrides["instanceGroups.accelerated.count"] = int64_t{99};
  auto resolved = Resolve(request, LoadPresets().value());
  EXPECT_THAT(resolved, StatusIs(StatusCode::kInvalidArgument, HasSubstr("\"nope\"")));
  EXPECT_THAT(resolved, StatusIs(StatusCode::kInvalidArgument, HasSubstr("= 99 exceeds")));
  EXPECT_EQ(resolved.status().error_name(), "InvalidOverride");
}

TEST(Resolve, NoPresetMeansTheDefault) {
  DeploymentRequest request = testing::SeedRequest();
  request.config.preset = "";
  auto resolved = Resolve(request, LoadPresets().value());
  ASSERT_THAT(resolved, IsOk());
  EXPECT_EQ(resolved->preset.name, "small");
}

}  // namespace
}  // namespace hpd::hyperpod

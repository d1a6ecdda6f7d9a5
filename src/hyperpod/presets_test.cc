#include "hyperpod/presets.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace hpd::hyperpod {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// One complete preset; tests splice changes into it.
std::string PresetJson(const std::string& name, const std::string& instance_type = "ml.g5.8xlarge",
                       const std::string& count = "2") {
  return "\"" + name + R"(": {
      "description": "test preset",
      "kubernetesVersion": "1.33",
      "instanceGroups": [{"name": "accelerated", "instanceType": ")" +
         instance_type + R"(", "count": )" + count + R"(,
                          "threadsPerCore": 1, "ebsVolumeGb": 500, "deepHealthChecks": []}],
      "allowedInstanceTypes": [")" +
         instance_type + R"("],
      "fsx": {"deploymentType": "SCRATCH_2", "storageGiB": 1200, "perUnitStorageThroughput": 0},
      "eks": {"nodeInstanceTypes": ["m5.2xlarge"], "minSize": 2, "maxSize": 3},
      "limits": {"maxInstanceCountPerGroup": 4, "maxEbsVolumeGb": 1000, "maxFsxStorageGiB": 4800,
                 "maxEksNodes": 5, "kubernetesVersions": ["1.33"]}
    })";
}

std::string Catalog(const std::string& presets, const std::string& extra = "") {
  return R"({"defaultPreset": "p", "regions": ["us-west-2"], )" + extra + R"("presets": {)" +
         presets + "}}";
}

TEST(BuiltinPresets, ParseWithTheThreePresetsAndSixteenRegions) {
  auto catalog = LoadPresets();
  ASSERT_THAT(catalog, IsOk());
  EXPECT_THAT(catalog->Names(), ElementsAre("large", "medium", "small"));
  EXPECT_EQ(catalog->default_preset(), "small");
  EXPECT_THAT(catalog->regions(), SizeIs(16));
  EXPECT_TRUE(catalog->IsAllowedRegion("eu-south-2"));
  EXPECT_FALSE(catalog->IsAllowedRegion("eu-west-3"));

  const Preset* small = catalog->Find("small");
  ASSERT_NE(small, nullptr);
  ASSERT_THAT(small->instance_groups, SizeIs(1));
  EXPECT_EQ(small->instance_groups[0].instance_type, "ml.g5.8xlarge");
  EXPECT_EQ(small->instance_groups[0].count, 2);
  EXPECT_EQ(small->fsx.deployment_type, "SCRATCH_2");
  EXPECT_EQ(small->fsx.storage_gib, 1200);

  const Preset* large = catalog->Find("large");
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(large->instance_groups[0].instance_type, "ml.p5.48xlarge");
  EXPECT_THAT(large->instance_groups[0].deep_health_checks,
              ElementsAre("InstanceStress", "InstanceConnectivity"));
  EXPECT_EQ(large->fsx.deployment_type, "PERSISTENT_2");
  EXPECT_EQ(large->fsx.per_unit_storage_throughput, 500);
}

TEST(PresetCatalog, ParsesACompleteDocument) {
  auto catalog = ParsePresetCatalog(Catalog(PresetJson("p")), "t.json");
  ASSERT_THAT(catalog, IsOk());
  const Preset* p = catalog->Find("p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->limits.max_instance_count_per_group, 4);
  EXPECT_THAT(p->eks.node_instance_types, ElementsAre("m5.2xlarge"));
  EXPECT_EQ(p->FindGroup("accelerated")->ebs_volume_gb, 500);
  EXPECT_EQ(p->FindGroup("general"), nullptr);
}

TEST(PresetCatalog, UserFileReplacesByNameAndAdds) {
  auto builtin = LoadPresets();
  ASSERT_THAT(builtin, IsOk());
  const std::string user = R"({"presets": {)" + PresetJson("small", "ml.g5.12xlarge", "3") + "," +
                           PresetJson("xl", "ml.p5.48xlarge", "4") + "}}";
  auto merged = ParsePresetCatalog(user, "user.json", &*builtin);
  ASSERT_THAT(merged, IsOk());
  EXPECT_THAT(merged->Names(), ElementsAre("large", "medium", "small", "xl"));
  // Replaced whole, not merged field by field.
  EXPECT_EQ(merged->Find("small")->instance_groups[0].instance_type, "ml.g5.12xlarge");
  EXPECT_EQ(merged->Find("small")->instance_groups[0].count, 3);
  EXPECT_EQ(merged->Find("small")->description, "test preset");
  EXPECT_EQ(merged->Find("medium")->instance_groups[0].count, 8);
  // Absent regions and defaultPreset keep the built-in values.
  EXPECT_THAT(merged->regions(), SizeIs(16));
  EXPECT_EQ(merged->default_preset(), "small");
}

TEST(PresetCatalog, UserFileMayReplaceRegionsAndDefault) {
  auto builtin = LoadPresets();
  ASSERT_THAT(builtin, IsOk());
  auto merged =
      ParsePresetCatalog(R"({"defaultPreset": "large", "regions": ["us-east-1"], "presets": {}})",
                         "user.json", &*builtin);
  ASSERT_THAT(merged, IsOk());
  EXPECT_EQ(merged->default_preset(), "large");
  EXPECT_THAT(merged->regions(), ElementsAre("us-east-1"));
}

class PresetFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hyperpod_presets_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path Write(const std::string& text) {
    std::filesystem::path path = dir_ / "presets.json";
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(PresetFileTest, LoadsAndMergesAUserFile) {
  auto catalog = LoadPresets(Write(R"({"presets": {)" + PresetJson("tiny") + "}}"));
  ASSERT_THAT(catalog, IsOk());
  EXPECT_NE(catalog->Find("tiny"), nullptr);
  EXPECT_NE(catalog->Find("small"), nullptr);
}

TEST_F(PresetFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(LoadPresets(dir_ / "absent.json"),
              StatusIs(StatusCode::kNotFound, HasSubstr("absent.json")));
}

TEST_F(PresetFileTest, MalformedFileNamesTheFile) {
  const auto path = Write("{\"presets\": ");
  EXPECT_THAT(LoadPresets(path),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr(path.string() + ": invalid JSON")));
}

struct MalformedCase {
  std::string name;
  std::string document;
  std::string message;
};

class MalformedPresetTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedPresetTest, IsInvalidArgumentNamingFilePresetAndField) {
  auto catalog = ParsePresetCatalog(GetParam().document, "t.json");
  EXPECT_THAT(catalog, StatusIs(StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
  EXPECT_EQ(catalog.status().error_name(), "InvalidPresetFile");
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) ADD_FAILURE() << "no " << from << " in test document";
  return text.replace(at, from.size(), to);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedPresetTest,
    ::testing::Values(
        MalformedCase{"NotAnObject", "[]", "t.json: the document must be a JSON object"},
        MalformedCase{"MissingRegions",
                      R"({"defaultPreset": "p", "presets": {)" + PresetJson("p") + "}}",
                      "t.json: regions: is required"},
        MalformedCase{"EmptyRegions", Catalog(PresetJson("p"), R"("regions": [], )"),
                      "t.json: regions: must not be empty"},
        MalformedCase{"CountIsAString", Catalog(PresetJson("p", "ml.g5.8xlarge", "\"2\"")),
                      "t.json: preset \"p\": instanceGroups[0].count: must be an integer >= 0, "
                      "got \"2\""},
        MalformedCase{"CountIsFractional", Catalog(PresetJson("p", "ml.g5.8xlarge", "1.5")),
                      "preset \"p\": instanceGroups[0].count: must be an integer >= 0, got 1.5"},
        MalformedCase{"CountIsNegative", Catalog(PresetJson("p", "ml.g5.8xlarge", "-1")),
                      "instanceGroups[0].count: must be an integer >= 0, got -1"},
        MalformedCase{"MissingDescription",
                      Catalog(Replace(PresetJson("p"), R"("description": "test preset",)", "")),
                      "t.json: preset \"p\": description: is required"},
        MalformedCase{
            "UnknownField",
            Catalog(Replace(PresetJson("p"), R"("description")", R"("colour": 1, "description")")),
            "preset \"p\": colour: is not a known field"},
        MalformedCase{
            "UnknownFsxField",
            Catalog(Replace(PresetJson("p"), R"("storageGiB")", R"("sizeGiB": 1, "storageGiB")")),
            "preset \"p\": fsx.sizeGiB: is not a known field"},
        MalformedCase{"BadDeploymentType",
                      Catalog(Replace(PresetJson("p"), "SCRATCH_2", "SCRATCH_1")),
                      "preset \"p\": fsx.deploymentType: must be SCRATCH_2, PERSISTENT_1 or "
                      "PERSISTENT_2, got \"SCRATCH_1\""},
        MalformedCase{
            "ThreadsPerCoreThree",
            Catalog(Replace(PresetJson("p"), R"("threadsPerCore": 1)", R"("threadsPerCore": 3)")),
            "instanceGroups[0].threadsPerCore: must be 1 or 2"},
        MalformedCase{"UnknownHealthCheck",
                      Catalog(Replace(PresetJson("p"), R"("deepHealthChecks": [])",
                                      R"("deepHealthChecks": ["Ping"])")),
                      "instanceGroups[0].deepHealthChecks: \"Ping\" is not InstanceStress or "
                      "InstanceConnectivity"},
        MalformedCase{"NoGroups",
                      Catalog(Replace(PresetJson("p"), R"("instanceGroups": [)",
                                      R"("instanceGroups": [], "x": [)")),
                      "preset \"p\": instanceGroups: must hold 1 to 100 groups, has 0"},
        MalformedCase{"DuplicateGroup",
                      Catalog(Replace(PresetJson("p"), R"("deepHealthChecks": []})",
                                      R"("deepHealthChecks": []}, {"name": "accelerated",
                                      "instanceType": "t", "count": 1, "threadsPerCore": 1,
                                      "ebsVolumeGb": 1, "deepHealthChecks": []})")),
                      "instanceGroups[1].name: duplicate group name \"accelerated\""},
        MalformedCase{"EksMaxBelowMin",
                      Catalog(Replace(PresetJson("p"), R"("maxSize": 3)", R"("maxSize": 1)")),
                      "preset \"p\": eks.maxSize: must be >= minSize (2), got 1"},
        MalformedCase{
            "EmptyAllowlist",
            Catalog(Replace(PresetJson("p"), R"("allowedInstanceTypes": ["ml.g5.8xlarge"])",
                            R"("allowedInstanceTypes": [])")),
            "preset \"p\": allowedInstanceTypes: must not be empty"},
        MalformedCase{"LimitsMissingField",
                      Catalog(Replace(PresetJson("p"), R"("maxEksNodes": 5,)", "")),
                      "preset \"p\": limits.maxEksNodes: is required"},
        MalformedCase{"BadPresetName", Catalog(PresetJson("Big GPU")),
                      "presets: preset name \"Big GPU\" must be 1-32 lowercase letters"},
        MalformedCase{"UnknownDefault",
                      R"({"defaultPreset": "q", "regions": ["us-west-2"], "presets": {)" +
                          PresetJson("p") + "}}",
                      "t.json: defaultPreset: \"q\" is not a preset of the catalog"},
        MalformedCase{"TopLevelTypo", Catalog(PresetJson("p"), R"("region": [], )"),
                      "t.json: region: is not a known field"}),
    [](const ::testing::TestParamInfo<MalformedCase>& p) { return p.param.name; });

}  // namespace
}  // namespace hpd::hyperpod

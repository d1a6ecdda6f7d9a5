// A GoogleTest fixture owning a fresh temporary folder per test, removed afterwards.
#ifndef HPD_TESTS_SUPPORT_SCRATCH_DIR_H_
#define HPD_TESTS_SUPPORT_SCRATCH_DIR_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace hpd::testing {

class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hpd_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `content` to `name` inside the folder; returns the file's path.
  std::string Write(const std::string& name, const std::string& content) {
    auto path = dir_ / name;
    std::ofstream(path) << content;
    return path.string();
  }

  std::filesystem::path dir_;
};

}  // namespace hpd::testing

#endif  // HPD_TESTS_SUPPORT_SCRATCH_DIR_H_

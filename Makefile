# The two commands a newcomer needs:
#   make run   install what is missing, build, and run the main job on the embedded default
#   make test  install what is missing, build, and run every test
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all setup configure build run test bench clean format

all: build

setup:
	scripts/setup

configure:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: setup build
	scripts/run-main

test: setup build
	scripts/run-tests $(BUILD_DIR)

bench: setup build
	$(BUILD_DIR)/bin/validate_bench --hpdeploy $(BUILD_DIR)/bin/hpdeploy
	$(BUILD_DIR)/bin/engine_bench

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD_DIR)

// hpdeploy: provisions SageMaker HyperPod clusters through a Step Functions workflow.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "hpdeploy: a Step Functions-compatible workflow engine and the HyperPod deployment "
      "pipeline that runs on it.",
      "hpdeploy"};
  app.set_version_flag("--version", std::string("hpdeploy 0.1.0"));
  app.require_subcommand(1);
  app.footer(
      "Run 'hpdeploy COMMAND --help' for a command's options.\n"
      "Exit codes: 0 success, 1 the command's answer is negative (a definition is invalid, an "
      "execution FAILED), 2 usage or I/O error.");

  int exit_code = hpd::cli::kExitOk;
  hpd::cli::RegisterValidateCommand(app, &exit_code);
  hpd::cli::RegisterRunCommand(app, &exit_code);
  hpd::cli::RegisterServeCommand(app, &exit_code);
  hpd::cli::RegisterSandboxCommand(app, &exit_code);
  hpd::cli::RegisterDeployCommands(app, &exit_code);
  hpd::cli::RegisterTokenCommands(app, &exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message
    return hpd::cli::kExitUsage;
  }
  return exit_code;
}

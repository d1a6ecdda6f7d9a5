// Subcommands of the hpdeploy executable. Each Register* adds a subcommand to the CLI11 app and
// arranges for its exit code to be stored in *exit_code when it runs.
#ifndef HPD_CLI_COMMANDS_H_
#define HPD_CLI_COMMANDS_H_

namespace CLI {
class App;
}

namespace hpd::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran; the answer is "no" (invalid, FAILED)
inline constexpr int kExitUsage = 2;    // bad arguments, unreadable files

void RegisterValidateCommand(CLI::App& app, int* exit_code);
void RegisterRunCommand(CLI::App& app, int* exit_code);
void RegisterServeCommand(CLI::App& app, int* exit_code);
void RegisterSandboxCommand(CLI::App& app, int* exit_code);
// deploy, status, logs, teardown, params
void RegisterDeployCommands(CLI::App& app, int* exit_code);
void RegisterTokenCommands(CLI::App& app, int* exit_code);  // token create | list | revoke

}  // namespace hpd::cli

#endif  // HPD_CLI_COMMANDS_H_

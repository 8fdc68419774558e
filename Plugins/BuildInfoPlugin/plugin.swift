import Foundation
import PackagePlugin

/// Writes BuildInfoGenerated.swift before every build: the git commit the sources are built from and whether the
/// working tree had uncommitted changes to tracked files. The file is only rewritten when its text changes, so
/// an unchanged tree recompiles nothing.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appendingPathComponent("BuildInfoGenerated.swift")
        let script = #"""
            repo="$1"; out="$2"
            commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null) || commit=unknown
            if [ "$commit" = unknown ]; then dirty=unknown
            elif [ -z "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then dirty=clean
            else dirty=dirty; fi
            printf '// Generated at build time by Plugins/BuildInfoPlugin.\nlet generatedCommit = "%s"\nlet generatedDirty = "%s"\n' \
                "$commit" "$dirty" > "$out.tmp"
            if cmp -s "$out.tmp" "$out"; then rm -f "$out.tmp"; else mv "$out.tmp" "$out"; fi
            """#
        return [.prebuildCommand(
            displayName: "Recording the git commit of the build",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: ["-c", script, "buildinfo", context.package.directoryURL.path, out.path],
            outputFilesDirectory: context.pluginWorkDirectoryURL)]
    }
}

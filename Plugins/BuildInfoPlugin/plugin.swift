import Foundation
import PackagePlugin

/// Writes BuildInfoGenerated.swift: the git commit the sources are built from and whether tracked files had
/// uncommitted changes. It is a build command whose inputs are git's HEAD, index and reference log and every file
/// of the package, so it runs again whenever a commit, a checkout or an edit could change its answer; the file
/// is only rewritten when its text changes, so an unchanged answer recompiles nothing.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let out = context.pluginWorkDirectoryURL.appendingPathComponent("BuildInfoGenerated.swift")
        let fm = FileManager.default
        var inputs: [URL] = []
        let git = root.appendingPathComponent(".git")
        for name in ["HEAD", "index", "packed-refs", "logs/HEAD"] {
            let u = git.appendingPathComponent(name)
            if fm.fileExists(atPath: u.path) { inputs.append(u) }
        }
        if let walker = fm.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let u as URL in walker {
                let name = u.lastPathComponent
                // Hidden folders (.build, .git, ...) and the ignored run and data folders hold nothing git tracks.
                if name.hasPrefix(".") || ["runs", "data", "__pycache__"].contains(name) { walker.skipDescendants(); continue }
                if (try? u.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { inputs.append(u) }
            }
        }
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
        return [.buildCommand(
            displayName: "Recording the git commit of the build",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: ["-c", script, "buildinfo", root.path, out.path],
            inputFiles: inputs,
            outputFiles: [out])]
    }
}

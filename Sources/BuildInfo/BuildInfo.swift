// The commit this binary was built from, written at build time by Plugins/BuildInfoPlugin.

public enum BuildInfo {
    /// `git rev-parse HEAD` of the package when it was built ("unknown" outside a git checkout).
    public static var commit: String { generatedCommit }
    /// "clean", "dirty" (tracked files had uncommitted changes) or "unknown".
    public static var dirty: String { generatedDirty }
}

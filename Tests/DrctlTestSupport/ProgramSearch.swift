import Foundation

/// The tests' one way to find a program: the first executable regular file named `name` in the folders of a
/// `PATH` (the process's own by default); a name with a slash is taken as a path.
public enum ProgramSearch {
    public static func find(_ name: String, path: String? = nil) -> String? {
        if name.contains("/") { return isExecutableFile(name) ? name : nil }
        let folders = path ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return folders.split(separator: ":").map { "\($0)/\(name)" }.first(where: isExecutableFile)
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isExecutableFile(atPath: path)
    }
}

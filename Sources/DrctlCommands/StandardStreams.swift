import Foundation

/// Line output of the commands. One `write` per line, so lines from concurrent steps never interleave.
enum StandardStreams {
    static func out(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
    static func err(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
}

/// Replaces `${NAME}` and `${NAME:-default}` in manifest strings with values from an environment.
///
/// `${NAME:-default}` uses the default when `NAME` is unset or empty, as the shell does. A `$` not followed by `{` is
/// kept as it is. Defaults are taken literally; they are not interpolated again.
struct VariableInterpolation: Sendable {
    var environment: [String: String]

    enum Problem: Error, Equatable {
        case unset(name: String)
        case malformed(detail: String)
    }

    func interpolate(_ text: String) throws(Problem) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            let body = rest[start.upperBound...]
            guard let end = body.firstIndex(of: "}") else {
                throw .malformed(detail: "'${' without a closing '}'")
            }
            result += try substitute(body[..<end])
            rest = body[body.index(after: end)...]
        }
        return result + rest
    }

    private func substitute(_ expression: Substring) throws(Problem) -> String {
        let name: Substring
        let fallback: Substring?
        if let separator = expression.range(of: ":-") {
            name = expression[..<separator.lowerBound]
            fallback = expression[separator.upperBound...]
        } else {
            name = expression
            fallback = nil
        }
        guard Self.isVariableName(name) else {
            throw .malformed(detail: "'${\(expression)}' does not name a variable")
        }
        let value = environment[String(name)]
        if let fallback, value?.isEmpty ?? true {
            return String(fallback)
        }
        guard let value else { throw .unset(name: String(name)) }
        return value
    }

    private static func isVariableName(_ name: Substring) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}

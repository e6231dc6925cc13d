/// A secret value that prints as `***`, so it cannot leak through string interpolation, `print` or `dump` of a
/// containing value. Pass `value` only where the secret must go: a child's environment or a 0600 file, and the
/// invocation's `secrets` list so it is redacted.
public struct SecretValue: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "***" }
    public var debugDescription: String { "SecretValue(***)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

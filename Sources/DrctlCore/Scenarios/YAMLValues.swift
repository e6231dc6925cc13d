import Yams

/// Renders generated helm values (secrets included) as YAML text.
enum YAMLValues {
    static func render(_ values: [String: Any]) throws -> String {
        try Yams.dump(object: values, sortKeys: true)
    }
}

import Foundation

/// What the identity that runs drctl needs in the namespace for one part of the data plane, as `kubectl create
/// role` / `kubectl create rolebinding` lines a cluster admin runs once. `drctl plan` prints them through
/// `planLines` beside the commands that need them.
///
/// - `jobs`: create, follow and delete the data-plane Jobs and the Secrets they read, read their pods and logs.
///   The Jobs' own ServiceAccount needs nothing from the API: the agent talks only to the database and the
///   off-site store.
/// - `archiveClaims`: read the archive's PersistentVolumeClaim before the archive sync Job is created.
/// - `portForward`: the database tunnel (`kubectl port-forward svc/NAME`): read the Service and its pods, open a
///   port-forward to one.
public struct DataPlaneRBAC: Sendable, Hashable {
    /// The same verbs on every resource named: one `kubectl create role`.
    public struct Rule: Sendable, Hashable {
        public var verbs: [String]
        public var resources: [String]
    }

    /// The Role's name (with `-<resource>` for each further rule: a Role of `kubectl create role` has one rule).
    public var role: String
    public var rules: [Rule]
    /// What needs it, as the plan says: `the Jobs`.
    public var purpose: String

    public static let jobs = DataPlaneRBAC(
        role: "drctl-data-plane",
        rules: [
            Rule(
                verbs: ["create", "get", "list", "watch", "delete", "patch"],
                resources: ["jobs.batch", "secrets", "pods", "pods/log"])
        ], purpose: "the Jobs")

    public static let archiveClaims = DataPlaneRBAC(
        role: "drctl-archive-claims", rules: [Rule(verbs: ["get"], resources: ["persistentvolumeclaims"])],
        purpose: "the archive claim's check")

    public static let portForward = DataPlaneRBAC(
        role: "drctl-port-forward",
        rules: [
            Rule(verbs: ["create"], resources: ["pods/portforward"]),
            Rule(verbs: ["get", "list"], resources: ["pods"]),
            Rule(verbs: ["get"], resources: ["services"]),
        ], purpose: "the database tunnel")

    /// The Role of each rule: `role` for the first, `role-<resource>` for the others.
    func roleName(of index: Int) -> String {
        index == 0 ? role : role + "-" + (rules[index].resources.first ?? String(index))
    }

    /// `kubectl create role` and `kubectl create rolebinding` for `user` (a placeholder in plans), per rule.
    public func invocations(kubectl: Kubectl, user: String = "<the user drctl runs as>") -> [CommandInvocation] {
        rules.indices.flatMap { index in
            let name = roleName(of: index)
            return [
                kubectl.createRole(name, verbs: rules[index].verbs, resources: rules[index].resources),
                kubectl.createRoleBinding(name, role: name, user: user),
            ]
        }
    }

    /// What `drctl plan` prints: each line says who runs it, once.
    public func planLines(kubectl: Kubectl) -> [String] {
        invocations(kubectl: kubectl).map(planLine)
    }

    /// One of `invocations` as the plan prints it.
    public func planLine(_ invocation: CommandInvocation) -> String {
        "(once, by a cluster admin: what drctl needs for \(purpose)) " + invocation.redactedCommandLine
    }
}

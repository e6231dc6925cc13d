import Foundation

/// What the identity that runs drctl needs in the namespace to conduct data-plane Jobs: create, follow and
/// delete Jobs and the Secrets they read, read their pods and logs. The Jobs' own ServiceAccount needs nothing
/// from the API: the agent talks only to the database and the off-site store. `drctl plan` prints these.
public enum DataPlaneRBAC {
    public static let roleName = "drctl-data-plane"
    public static let verbs = ["create", "get", "list", "watch", "delete", "patch"]
    public static let resources = ["jobs.batch", "secrets", "pods", "pods/log"]

    /// `kubectl create role` and `kubectl create rolebinding` for `user` (a placeholder in plans).
    public static func invocations(kubectl: Kubectl, user: String = "<the user drctl runs as>") -> [CommandInvocation] {
        [
            kubectl.createRole(roleName, verbs: verbs, resources: resources),
            kubectl.createRoleBinding(roleName, role: roleName, user: user),
        ]
    }
}

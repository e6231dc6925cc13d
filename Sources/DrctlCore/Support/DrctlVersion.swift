public enum DrctlVersion {
    public static let current = "0.1.0-dev"
}

import DrctlCommands

@main
struct Entrypoint {
    static func main() async {
        await DrctlCommand.main()
    }
}

import Foundation

/// An error of a step that got part of its work done (some shards of the archive sync): the executor journals
/// `partialOutputs` with the step's failure, and the step's next attempt — a retry or `drctl resume` — finds
/// them in `StepContext.partialOutputs` and does only the rest.
public protocol PartialStepOutputs: Error {
    var partialOutputs: StepOutputs { get }
}

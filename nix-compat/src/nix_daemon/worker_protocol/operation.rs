//! [`Operation`]: the numbers by which a client names what it wants.

use thiserror::Error;

/// A number that names no operation.
#[derive(Debug, Error, PartialEq, Eq, Clone, Copy)]
#[error("unknown worker operation {0}")]
pub struct UnknownOperation(pub u64);

/// Declares [`Operation`] and its conversions from one list, so the enum and
/// the wire numbers cannot drift apart.
macro_rules! operations {
    ($( $(#[$meta:meta])* $name:ident = $number:literal, )*) => {
        /// A worker operation, numbered as in Nix 2.8's `worker-protocol.hh`.
        ///
        /// The numbers 2, 15 and 17 belonged to operations removed long ago;
        /// they are unknown, as are 0 and anything above 46. Some that remain are marked obsolete: recent
        /// clients no longer send them, but the numbers stay reserved and
        /// Nix 2.8's daemon still serves most of them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u64)]
        pub enum Operation {
            $( $(#[$meta])* $name = $number, )*
        }

        impl TryFrom<u64> for Operation {
            type Error = UnknownOperation;

            fn try_from(number: u64) -> Result<Self, Self::Error> {
                match number {
                    $( $number => Ok(Operation::$name), )*
                    other => Err(UnknownOperation(other)),
                }
            }
        }

        #[cfg(test)]
        const ALL: &[Operation] = &[ $( Operation::$name, )* ];
    };
}

operations! {
    IsValidPath = 1,
    HasSubstitutes = 3,
    /// Obsolete: use [`Operation::QueryPathInfo`].
    QueryPathHash = 4,
    /// Obsolete: use [`Operation::QueryPathInfo`].
    QueryReferences = 5,
    QueryReferrers = 6,
    AddToStore = 7,
    /// Obsolete since protocol 1.25: use [`Operation::AddToStore`].
    AddTextToStore = 8,
    BuildPaths = 9,
    EnsurePath = 10,
    AddTempRoot = 11,
    AddIndirectRoot = 12,
    SyncWithGC = 13,
    FindRoots = 14,
    /// Obsolete: use [`Operation::NarFromPath`].
    ExportPath = 16,
    /// Obsolete: use [`Operation::QueryPathInfo`].
    QueryDeriver = 18,
    SetOptions = 19,
    CollectGarbage = 20,
    QuerySubstitutablePathInfo = 21,
    /// Obsolete: use [`Operation::QueryDerivationOutputMap`].
    QueryDerivationOutputs = 22,
    QueryAllValidPaths = 23,
    /// Defined in the header, but failed-path caching is gone and Nix 2.8's
    /// daemon answers "invalid operation".
    QueryFailedPaths = 24,
    /// Like [`Operation::QueryFailedPaths`]: defined, but rejected by Nix 2.8.
    ClearFailedPaths = 25,
    QueryPathInfo = 26,
    /// Obsolete: use [`Operation::AddToStoreNar`] or
    /// [`Operation::AddMultipleToStore`].
    ImportPaths = 27,
    /// Obsolete: use [`Operation::QueryDerivationOutputMap`].
    QueryDerivationOutputNames = 28,
    QueryPathFromHashPart = 29,
    QuerySubstitutablePathInfos = 30,
    QueryValidPaths = 31,
    QuerySubstitutablePaths = 32,
    QueryValidDerivers = 33,
    OptimiseStore = 34,
    VerifyStore = 35,
    BuildDerivation = 36,
    AddSignatures = 37,
    NarFromPath = 38,
    AddToStoreNar = 39,
    QueryMissing = 40,
    QueryDerivationOutputMap = 41,
    RegisterDrvOutput = 42,
    QueryRealisation = 43,
    AddMultipleToStore = 44,
    AddBuildLog = 45,
    BuildPathsWithResults = 46,
}

impl From<Operation> for u64 {
    fn from(operation: Operation) -> Self {
        operation as u64
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::{ALL, Operation, UnknownOperation};

    #[rstest]
    #[case::is_valid_path(1, Operation::IsValidPath)]
    #[case::has_substitutes(3, Operation::HasSubstitutes)]
    #[case::query_path_hash(4, Operation::QueryPathHash)]
    #[case::add_text_to_store(8, Operation::AddTextToStore)]
    #[case::find_roots(14, Operation::FindRoots)]
    #[case::export_path(16, Operation::ExportPath)]
    #[case::query_deriver(18, Operation::QueryDeriver)]
    #[case::set_options(19, Operation::SetOptions)]
    #[case::query_all_valid_paths(23, Operation::QueryAllValidPaths)]
    #[case::query_path_info(26, Operation::QueryPathInfo)]
    #[case::optimise_store(34, Operation::OptimiseStore)]
    #[case::nar_from_path(38, Operation::NarFromPath)]
    #[case::add_to_store_nar(39, Operation::AddToStoreNar)]
    #[case::query_missing(40, Operation::QueryMissing)]
    #[case::add_multiple_to_store(44, Operation::AddMultipleToStore)]
    #[case::add_build_log(45, Operation::AddBuildLog)]
    #[case::build_paths_with_results(46, Operation::BuildPathsWithResults)]
    fn known(#[case] number: u64, #[case] operation: Operation) {
        assert_eq!(Operation::try_from(number), Ok(operation));
        assert_eq!(u64::from(operation), number);
    }

    /// The gaps Nix 2.8's daemon answers with "invalid operation".
    #[rstest]
    #[case::zero(0)]
    #[case::removed_2(2)]
    #[case::removed_15(15)]
    #[case::removed_17(17)]
    #[case::after_last(47)]
    #[case::huge(u64::MAX)]
    fn unknown(#[case] number: u64) {
        assert_eq!(Operation::try_from(number), Err(UnknownOperation(number)));
    }

    /// 1 to 46, minus the three gaps.
    #[test]
    fn every_number_round_trips() {
        let numbers: Vec<u64> = ALL.iter().map(|&op| u64::from(op)).collect();
        let expected: Vec<u64> = (1..=46).filter(|n| ![2, 15, 17].contains(n)).collect();
        assert_eq!(numbers, expected);
        for &op in ALL {
            assert_eq!(Operation::try_from(u64::from(op)), Ok(op));
        }
    }
}

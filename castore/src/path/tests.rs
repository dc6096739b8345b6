use super::*;
use rstest::rstest;

fn invalid(path: &[u8], component: &[u8], source: PathComponentError) -> PathError {
    PathError::InvalidComponent {
        path: path.into(),
        component: component.into(),
        source,
    }
}

#[rstest]
#[case::root("", 0)]
#[case::single("a", 1)]
#[case::nested("a/b/c", 3)]
#[case::dotfile(".profile", 1)]
#[case::three_dots("a/.../b", 3)]
#[case::spaces("a b/c d", 2)]
fn parse_valid(#[case] s: &str, #[case] num_components: usize) {
    let path: PathBuf = s.parse().expect("must parse");
    assert_eq!(s.as_bytes(), path.as_bytes());
    assert_eq!(num_components, path.components().count());
    assert_eq!(s, path.to_string());
}

#[rstest]
#[case::absolute("/a", PathError::Absolute("/a".into()))]
#[case::only_slash("/", PathError::Absolute("/".into()))]
#[case::double_slash("a//b", invalid(b"a//b", b"", PathComponentError::Empty))]
#[case::trailing_slash("a/", invalid(b"a/", b"", PathComponentError::Empty))]
#[case::dot(".", invalid(b".", b".", PathComponentError::Dot))]
#[case::dot_middle("a/./b", invalid(b"a/./b", b".", PathComponentError::Dot))]
#[case::dotdot("..", invalid(b"..", b"..", PathComponentError::DotDot))]
#[case::dotdot_middle("a/../b", invalid(b"a/../b", b"..", PathComponentError::DotDot))]
#[case::nul("a/b\0c", invalid(b"a/b\0c", b"b\0c", PathComponentError::Nul))]
fn parse_invalid(#[case] s: &str, #[case] expected: PathError) {
    assert_eq!(Err(expected.clone()), s.parse::<PathBuf>());
    assert_eq!(Err(expected), Path::from_bytes(s.as_bytes()));
}

#[test]
fn root_is_empty() {
    assert_eq!(b"", Path::ROOT.as_bytes());
    assert!(Path::ROOT.is_root());
    assert_eq!(PathBuf::new().as_ref(), Path::ROOT);
}

#[rstest]
#[case::root("", None)]
#[case::single("a", Some(""))]
#[case::two("a/b", Some("a"))]
#[case::three("a/b/c", Some("a/b"))]
fn parent(#[case] s: &str, #[case] expected: Option<&str>) {
    let path: PathBuf = s.parse().expect("must parse");
    assert_eq!(
        expected.map(|p| p.as_bytes()),
        path.parent().map(|p| p.as_bytes())
    );
}

#[rstest]
#[case::root("", "")]
#[case::single("a", "")]
#[case::two("a/b", "a")]
#[case::three("abc/de/f", "abc/de")]
fn pop(#[case] s: &str, #[case] expected: &str) {
    let mut path: PathBuf = s.parse().expect("must parse");
    path.pop();
    assert_eq!(expected.as_bytes(), path.as_bytes());
}

#[rstest]
#[case::root("", &[])]
#[case::single("a", &["a"])]
#[case::nested("a/b/c", &["a", "b", "c"])]
fn components(#[case] s: &str, #[case] expected: &[&str]) {
    let path: PathBuf = s.parse().expect("must parse");
    let bytes: Vec<&[u8]> = path.components_bytes().collect();
    let expected_bytes: Vec<&[u8]> = expected.iter().map(|c| c.as_bytes()).collect();
    assert_eq!(expected_bytes, bytes);
    let owned: Vec<Vec<u8>> = path.components().map(|c| c.as_bytes().to_vec()).collect();
    assert_eq!(
        expected_bytes
            .iter()
            .map(|c| c.to_vec())
            .collect::<Vec<_>>(),
        owned
    );
}

#[rstest]
#[case::root("", None)]
#[case::single("a", Some("a"))]
#[case::nested("a/b/c", Some("c"))]
fn file_name(#[case] s: &str, #[case] expected: Option<&str>) {
    let path: PathBuf = s.parse().expect("must parse");
    assert_eq!(
        expected.map(|n| n.as_bytes().to_vec()),
        path.file_name().map(|n| n.as_bytes().to_vec())
    );
}

#[rstest]
#[case::onto_root("", b"a", Ok("a"))]
#[case::onto_name("a", b"b", Ok("a/b"))]
#[case::onto_nested("a/b", b"c", Ok("a/b/c"))]
#[case::empty("a", b"", Err(invalid(b"a", b"", PathComponentError::Empty)))]
#[case::slash("a", b"b/c", Err(invalid(b"a", b"b/c", PathComponentError::Slash)))]
#[case::dot("a", b".", Err(invalid(b"a", b".", PathComponentError::Dot)))]
#[case::dotdot("a", b"..", Err(invalid(b"a", b"..", PathComponentError::DotDot)))]
#[case::nul("", b"\0", Err(invalid(b"", b"\0", PathComponentError::Nul)))]
fn try_join_and_push(
    #[case] base: &str,
    #[case] name: &[u8],
    #[case] expected: Result<&str, PathError>,
) {
    let base: PathBuf = base.parse().expect("must parse");
    let expected = expected.map(|s| s.parse::<PathBuf>().expect("must parse"));
    assert_eq!(expected, base.try_join(name));

    let mut pushed = base.clone();
    let result = pushed.try_push(name).map(|()| pushed.clone());
    assert_eq!(expected, result);
    if result.is_err() {
        assert_eq!(base, pushed, "a failed push leaves the path unchanged");
    }
}

#[rstest]
#[case::empty("", false, Ok(""))]
#[case::single("a", false, Ok("a"))]
#[case::nested("a/b/c", false, Ok("a/b/c"))]
#[case::leading_dot("./a", false, Ok("a"))]
#[case::only_dot(".", false, Ok(""))]
#[case::dot_middle("a/./b", false, Ok("a/b"))]
#[case::repeated_slash("a//b", false, Ok("a/b"))]
#[case::trailing_slash("a/b/", false, Ok("a/b"))]
#[case::absolute("/a", false, Err(FromHostPathError::Absolute("/a".into())))]
#[case::absolute_canonicalize("/a", true, Err(FromHostPathError::Absolute("/a".into())))]
#[case::dotdot_not_asked("a/../b", false, Err(FromHostPathError::DotDot("a/../b".into())))]
#[case::dotdot_middle("a/../b", true, Ok("b"))]
#[case::dotdot_to_root("a/..", true, Ok(""))]
#[case::dotdot_twice("a/b/../../c", true, Ok("c"))]
#[case::dotdot_above_root("..", true, Err(FromHostPathError::AboveRoot("..".into())))]
#[case::dotdot_above_later("a/../..", true, Err(FromHostPathError::AboveRoot("a/../..".into())))]
fn from_host_path(
    #[case] host: &str,
    #[case] canonicalize_dotdot: bool,
    #[case] expected: Result<&str, FromHostPathError>,
) {
    let expected = expected.map(|s| s.parse::<PathBuf>().expect("must parse"));
    assert_eq!(
        expected,
        PathBuf::from_host_path(std::path::Path::new(host), canonicalize_dotdot)
    );
}

#[test]
fn from_host_path_too_long_name() {
    let name = "x".repeat(MAX_NAME_LEN + 1);
    let host = format!("a/{name}");
    assert_eq!(
        Err(FromHostPathError::InvalidComponent {
            path: host.clone().into(),
            component: name.clone().into(),
            source: PathComponentError::TooLong(MAX_NAME_LEN + 1),
        }),
        PathBuf::from_host_path(std::path::Path::new(&host), false)
    );
}

proptest::proptest! {
    /// Joining valid components and parsing the result gives them back.
    #[test]
    fn components_round_trip(
        components in proptest::collection::vec(crate::fixtures::strategies::path_component(), 0..6),
    ) {
        let mut path = PathBuf::new();
        for component in &components {
            path.try_push(component.as_bytes()).expect("valid component");
        }
        let parsed = PathBuf::try_from(path.as_bytes().to_vec()).expect("valid path");
        proptest::prop_assert_eq!(&path, &parsed);
        proptest::prop_assert_eq!(components, parsed.components().collect::<Vec<_>>());
    }
}

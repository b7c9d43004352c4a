//! Listing the images of a store and picking one.

use super::verify::{read_small, Expect};
use super::{blob_path, parse, Format, ImageReader, LayerSource, ReadError, ReadImage, MAX_JSON};
use crate::spec::{
    ConfigFile, Descriptor, DockerManifestEntry, Index, Manifest, Platform, ANNOTATION_REF_NAME,
    MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER_TAR, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};
use crate::Digest;

/// How deep indexes may nest inside `index.json`.
const MAX_DEPTH: usize = 4;

/// Which image of a store to read. With no reference, the store must hold
/// one image (per platform, when a platform is given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// A ref name (`org.opencontainers.image.ref.name`), a `RepoTags`
    /// entry, or the tag part of either.
    pub reference: Option<String>,
    /// `arm64` matches `arm64/v8` and `arm` matches `arm/v7`, as in
    /// containerd.
    pub platform: Option<Platform>,
}

/// One image of a store, as [`ImageReader::images`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Ref names or `RepoTags`; may be empty.
    pub names: Vec<String>,
    /// From the index; `None` when only the config tells.
    pub platform: Option<Platform>,
    target: Target,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Oci(Descriptor),
    Docker(DockerManifestEntry),
}

impl ImageRef {
    fn matches(&self, reference: &str) -> bool {
        let reference = familiar(reference);
        self.names.iter().any(|n| familiar(n) == reference || tag_of(n) == Some(reference))
    }

    fn describe(&self, platform: Option<&Platform>) -> String {
        let name = if self.names.is_empty() { "(unnamed)".to_owned() } else { self.names.join(", ") };
        match platform.or(self.platform.as_ref()) {
            Some(p) => format!("{name} [{}]", platform_name(p)),
            None => name,
        }
    }
}

/// A Docker Hub name as people write it: `docker.io/library/x:1` → `x:1`,
/// as `docker load` and skopeo store short names expanded.
fn familiar(name: &str) -> &str {
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name)
}

/// `tag` of `repo:tag`, where the `:` is not the one of a registry port.
fn tag_of(name: &str) -> Option<&str> {
    name.rsplit_once(':').filter(|(repo, tag)| !tag.contains('/') && !repo.is_empty()).map(|t| t.1)
}

pub(super) fn list(reader: &ImageReader) -> Result<Vec<ImageRef>, ReadError> {
    if reader.format == Format::DockerArchive {
        let entries: Vec<DockerManifestEntry> = reader.json_file("manifest.json")?;
        let image =
            |e: DockerManifestEntry| ImageRef { names: e.repo_tags.clone(), platform: None, target: Target::Docker(e) };
        return Ok(entries.into_iter().map(image).collect());
    }
    let index: Index = reader.json_file("index.json")?;
    let mut out = Vec::new();
    walk(reader, &index.manifests, &[], 0, &mut out)?;
    Ok(out)
}

fn walk(
    reader: &ImageReader,
    descs: &[Descriptor],
    names: &[String],
    depth: usize,
    out: &mut Vec<ImageRef>,
) -> Result<(), ReadError> {
    for desc in descs {
        let own: Vec<String> = desc.annotations.get(ANNOTATION_REF_NAME).cloned().into_iter().collect();
        let names = if own.is_empty() { names.to_vec() } else { own };
        match desc.media_type.as_str() {
            MEDIA_TYPE_INDEX | MEDIA_TYPE_DOCKER_LIST => {
                if depth >= MAX_DEPTH {
                    return Err(ReadError::TooDeep { blob: desc.digest.to_string(), limit: MAX_DEPTH });
                }
                let (child, _): (Index, _) = reader.json_blob(desc, "index")?;
                walk(reader, &child.manifests, &names, depth + 1, out)?;
            }
            MEDIA_TYPE_MANIFEST | MEDIA_TYPE_DOCKER_MANIFEST | "" => {
                out.push(ImageRef { names, platform: desc.platform.clone(), target: Target::Oci(desc.clone()) })
            }
            _ => {} // artifacts, attestations: not images
        }
    }
    Ok(())
}

pub(super) fn select<'r>(reader: &'r ImageReader, selector: &Selector) -> Result<ReadImage<'r>, ReadError> {
    let image = reader.path().to_owned();
    let mut refs = list(reader)?;
    if refs.is_empty() {
        return Err(ReadError::Empty { image });
    }
    let all = |refs: &[ImageRef]| refs.iter().map(|r| r.describe(None)).collect::<Vec<_>>().join("; ");
    if let Some(reference) = &selector.reference {
        let available = all(&refs);
        refs.retain(|r| r.matches(reference));
        if refs.is_empty() {
            return Err(ReadError::NoSuchRef { image, reference: reference.clone(), available });
        }
    }
    let mut loaded = refs.into_iter().map(|r| load(reader, r)).collect::<Result<Vec<_>, _>>()?;
    if let Some(wanted) = &selector.platform {
        let available = loaded.iter().map(|i| platform_name(&i.platform())).collect::<Vec<_>>().join(", ");
        loaded.retain(|i| same_platform(&i.platform(), wanted));
        if loaded.is_empty() {
            return Err(ReadError::NoPlatform { image, wanted: platform_name(wanted), available });
        }
    }
    if loaded.len() > 1 {
        let available = loaded.iter().map(|i| format!("{} [{}]", i.names.join(", "), platform_name(&i.platform())));
        return Err(ReadError::Ambiguous { image, available: available.collect::<Vec<_>>().join("; ") });
    }
    Ok(loaded.remove(0))
}

fn load(reader: &ImageReader, image: ImageRef) -> Result<ReadImage<'_>, ReadError> {
    let read = match image.target {
        Target::Oci(desc) => {
            let (manifest, manifest_raw): (Manifest, _) = reader.json_blob(&desc, "manifest")?;
            let (config, config_raw): (ConfigFile, _) = reader.json_blob(&manifest.config, "config")?;
            check_count(reader, manifest.layers.len(), &config)?;
            let layers = manifest.layers.iter().zip(&config.rootfs.diff_ids).map(|(d, &diff)| oci_layer(d, diff));
            let layers = layers.collect();
            let config_digest = manifest.config.digest;
            ReadImage {
                manifest,
                manifest_digest: Some(desc.digest),
                config,
                config_digest,
                names: image.names,
                manifest_raw: Some(manifest_raw),
                config_raw,
                layers,
                reader,
            }
        }
        Target::Docker(entry) => docker_image(reader, entry)?,
    };
    Ok(read)
}

fn check_count(reader: &ImageReader, layers: usize, config: &ConfigFile) -> Result<(), ReadError> {
    match config.rootfs.diff_ids.len() {
        n if n == layers => Ok(()),
        n => Err(ReadError::LayerCount { image: reader.path().into(), manifest: layers, config: n }),
    }
}

fn oci_layer(d: &Descriptor, diff_id: Digest) -> LayerSource {
    let expect = Expect { blob: format!("layer {}", d.digest), digest: Some(d.digest), size: Some(d.size) };
    LayerSource { name: blob_path(&d.digest), expect, diff_id: Some(diff_id) }
}

/// A docker-archive image, with a manifest made up from `manifest.json`.
/// The config and layers are verified against their names where the
/// names are digests, and layers against the config's diff ids.
fn docker_image(reader: &ImageReader, entry: DockerManifestEntry) -> Result<ReadImage<'_>, ReadError> {
    let (file, size) = reader.source.open(&entry.config)?;
    let expect = Expect { blob: entry.config.clone(), digest: digest_from_name(&entry.config), size: Some(size) };
    let bytes = read_small(file, expect, MAX_JSON)?;
    let config: ConfigFile = parse(&bytes, &entry.config)?;
    let config_desc = Descriptor {
        media_type: MEDIA_TYPE_DOCKER_CONFIG.into(),
        digest: Digest::of(&bytes),
        size,
        ..Descriptor::default()
    };
    check_count(reader, entry.layers.len(), &config)?;
    let (mut descs, mut layers) = (Vec::new(), Vec::new());
    for (name, &diff_id) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
        let (_, size) = reader.source.open(name)?;
        let stated = digest_from_name(name);
        let media_type = MEDIA_TYPE_DOCKER_LAYER_TAR.into();
        descs.push(Descriptor { media_type, digest: stated.unwrap_or(diff_id), size, ..Descriptor::default() });
        let expect = Expect { blob: name.clone(), digest: stated, size: Some(size) };
        layers.push(LayerSource { name: name.clone(), expect, diff_id: Some(diff_id) });
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_DOCKER_MANIFEST.into()),
        config: config_desc,
        layers: descs,
        ..Manifest::default()
    };
    let config_digest = manifest.config.digest;
    Ok(ReadImage {
        manifest,
        manifest_digest: None,
        config,
        config_digest,
        names: entry.repo_tags,
        manifest_raw: None,
        config_raw: bytes,
        layers,
        reader,
    })
}

/// The digest a docker-archive member name states: `blobs/sha256/<hex>`
/// (Docker 25+) or `<hex>.tar` / `<hex>.json` (skopeo, older Docker).
fn digest_from_name(name: &str) -> Option<Digest> {
    if let Some(hex) = super::source::normalize(name).strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex);
    }
    let file = name.rsplit('/').next()?;
    let stem = file.strip_suffix(".tar").or_else(|| file.strip_suffix(".json"))?;
    Digest::from_hex(stem)
}

/// `os/arch[/variant]`.
fn platform_name(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

fn same_platform(a: &Platform, b: &Platform) -> bool {
    let norm = |p: &Platform| {
        let arch = match p.architecture.as_str() {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let variant = match (arch, p.variant.as_deref()) {
            ("arm64", Some("v8") | None) => "",
            ("arm", None) => "v7",
            (_, v) => v.unwrap_or(""),
        };
        (p.os.clone(), arch.to_owned(), variant.to_owned())
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: variant.map(Into::into),
            ..Platform::default()
        }
    }

    #[test]
    fn platforms_match_like_containerd() {
        assert!(same_platform(&p("arm64", Some("v8")), &p("arm64", None)));
        assert!(same_platform(&p("arm", None), &p("arm", Some("v7"))));
        assert!(!same_platform(&p("arm", Some("v5")), &p("arm", Some("v7"))));
        assert!(!same_platform(&p("amd64", None), &p("386", None)));
    }

    #[test]
    fn member_names_state_digests() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(digest_from_name(&format!("{hex}.tar")), Some(Digest::of(b"")));
        assert_eq!(digest_from_name(&format!("blobs/sha256/{hex}")), Some(Digest::of(b"")));
        assert_eq!(digest_from_name(&format!("{hex}/layer.tar")), None);
    }

    #[test]
    fn references_match_names_and_tags() {
        let r = ImageRef {
            names: vec!["localhost:5000/a/b:v1".into()],
            platform: None,
            target: Target::Oci(Descriptor::default()),
        };
        assert!(r.matches("localhost:5000/a/b:v1"));
        assert!(r.matches("v1"));
        assert!(!r.matches("5000/a/b:v1"));
        let hub = ImageRef { names: vec!["docker.io/library/busybox:1".into()], ..r };
        assert!(hub.matches("busybox:1") && hub.matches("docker.io/busybox:1") && hub.matches("1"));
    }
}

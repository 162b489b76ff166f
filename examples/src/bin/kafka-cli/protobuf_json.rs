//! `--value-format protobuf`: JSON lines to registry-framed Protobuf and back, with no
//! generated code. The `.proto` text is compiled at run time (`protox`, pure Rust) and
//! messages are built and printed through `prost-reflect`'s dynamic messages, whose JSON
//! mapping is Protobuf's canonical one (what Confluent's tools print).

use std::collections::HashMap;
use std::sync::Mutex;

use kafka_serde::schema_registry::registry::Schema;
use kafka_serde::schema_registry::wire::{read_header, read_message_indexes};
use kafka_serde::schema_registry::{ProtobufSerializer, SchemaRegistryClient, SerdeConfig};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

/// The name the compiled schema's own file gets.
const ROOT: &str = "schema.proto";

/// Compiles `source` (imports resolved from `imports`, name → text, plus Google's
/// well-known types) into a descriptor pool.
fn compile(source: &str, imports: HashMap<String, String>) -> Result<DescriptorPool, String> {
    use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

    #[derive(Debug)]
    struct InMemory(HashMap<String, String>);

    impl FileResolver for InMemory {
        fn open_file(&self, name: &str) -> Result<File, protox::Error> {
            match self.0.get(name) {
                Some(text) => match descriptor(name, text) {
                    Some(file) => Ok(File::from_file_descriptor_proto(file)),
                    None => File::from_source(name, text),
                },
                None => Err(protox::Error::file_not_found(name)),
            }
        }
    }

    let mut files = imports;
    files.insert(ROOT.to_owned(), source.to_owned());
    let mut chain = ChainFileResolver::new();
    chain.add(InMemory(files));
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler.open_file(ROOT).map_err(|e| e.to_string())?;
    DescriptorPool::from_file_descriptor_set(compiler.file_descriptor_set())
        .map_err(|e| e.to_string())
}

/// A schema registered as a base64 serialized `FileDescriptorProto` (what Confluent's
/// Protobuf serializers register; the registry accepts it beside `.proto` text), named
/// `name` for the import graph. `None` for `.proto` text.
fn descriptor(name: &str, text: &str) -> Option<prost_types::FileDescriptorProto> {
    use base64::Engine as _;
    let text = text.trim();
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == ';') {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let mut file =
        <prost_types::FileDescriptorProto as prost::Message>::decode(bytes.as_slice()).ok()?;
    file.name = Some(name.to_owned());
    Some(file)
}

/// The message the index path names in the schema's own file: the top-level message
/// at the first index, then nested ones.
fn message_at(pool: &DescriptorPool, indexes: &[i32]) -> Result<MessageDescriptor, String> {
    let file = pool
        .get_file_by_name(ROOT)
        .ok_or_else(|| "the compiled schema has no file".to_owned())?;
    let mut path = indexes.iter();
    let first = *path.next().unwrap_or(&0);
    let mut message = file
        .messages()
        .nth(usize::try_from(first).unwrap_or(usize::MAX))
        .ok_or_else(|| format!("the schema has no top-level message #{first}"))?;
    for &i in path {
        let child = message
            .child_messages()
            .nth(usize::try_from(i).unwrap_or(usize::MAX));
        message =
            child.ok_or_else(|| format!("{} has no nested message #{i}", message.full_name()))?;
    }
    Ok(message)
}

/// `produce --value-format protobuf`: each line's JSON as `message` of the `.proto`
/// schema, registered under the topic's value subject.
pub struct ProtobufEncoder {
    serializer: ProtobufSerializer<DynamicMessage>,
    message: MessageDescriptor,
}

impl ProtobufEncoder {
    /// An encoder of `message` (full name, or `None`: the file's first message).
    pub fn new(
        registry: SchemaRegistryClient,
        source: &str,
        message: Option<&str>,
    ) -> Result<Self, String> {
        let pool = compile(source, HashMap::new())?;
        let descriptor = match message {
            Some(name) => pool
                .get_message_by_name(name)
                .or_else(|| {
                    // A name without its package.
                    pool.all_messages()
                        .find(|m| m.full_name().ends_with(&format!(".{name}")))
                })
                .ok_or_else(|| format!("no message {name:?} in the schema"))?,
            None => message_at(&pool, &[0])?,
        };
        let serializer = ProtobufSerializer::new(
            registry,
            source,
            descriptor.full_name(),
            SerdeConfig::value(),
        )
        .map_err(|e| e.to_string())?;
        Ok(ProtobufEncoder {
            serializer,
            message: descriptor,
        })
    }

    /// The JSON text `line` as the message, framed for the registry.
    pub async fn encode(&self, topic: &str, line: &str) -> Result<Vec<u8>, String> {
        let mut json = serde_json::Deserializer::from_str(line);
        let message = DynamicMessage::deserialize(self.message.clone(), &mut json)
            .map_err(|e| format!("not a {} in JSON: {e}", self.message.full_name()))?;
        json.end().map_err(|e| e.to_string())?;
        self.serializer
            .serialize_async(topic, &message)
            .await
            .map_err(|e| e.to_string())
    }
}

/// `consume --value-format protobuf`: registry-framed Protobuf to canonical JSON, the
/// writer's schema fetched by id (with its references) and compiled once per id.
pub struct ProtobufDecoder {
    registry: SchemaRegistryClient,
    pools: Mutex<HashMap<u32, DescriptorPool>>,
}

impl ProtobufDecoder {
    /// A decoder asking `registry` for writer schemas.
    pub fn new(registry: SchemaRegistryClient) -> Self {
        ProtobufDecoder {
            registry,
            pools: Mutex::new(HashMap::new()),
        }
    }

    async fn pool(&self, id: u32) -> Result<DescriptorPool, String> {
        if let Some(pool) = self.pools.lock().unwrap().get(&id) {
            return Ok(pool.clone());
        }
        let schema = self
            .registry
            .schema_by_id(id)
            .await
            .map_err(|e| format!("schema {id}: {e}"))?;
        let imports = self.imports(&schema).await?;
        let pool = compile(&schema.schema, imports).map_err(|e| format!("schema {id}: {e}"))?;
        self.pools.lock().unwrap().insert(id, pool.clone());
        Ok(pool)
    }

    /// The referenced schemas' texts by import name, transitively.
    async fn imports(&self, schema: &Schema) -> Result<HashMap<String, String>, String> {
        let mut out = HashMap::new();
        let mut pending = schema.references.clone();
        while let Some(r) = pending.pop() {
            if out.contains_key(&r.name) {
                continue;
            }
            let found = self
                .registry
                .schema_by_version(&r.subject, r.version)
                .await
                .map_err(|e| format!("reference {} ({} v{}): {e}", r.name, r.subject, r.version))?;
            pending.extend(found.schema.references.iter().cloned());
            out.insert(r.name.clone(), found.schema.schema.clone());
        }
        Ok(out)
    }

    /// The value as canonical Protobuf JSON.
    pub async fn decode(&self, data: &[u8]) -> Result<String, String> {
        let (id, payload) = read_header(data).map_err(|e| e.to_string())?;
        let (indexes, body) = read_message_indexes(payload).map_err(|e| e.to_string())?;
        let pool = self.pool(id).await?;
        let descriptor = message_at(&pool, &indexes)?;
        let message = DynamicMessage::decode(descriptor, body).map_err(|e| e.to_string())?;
        serde_json::to_string(&message).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: &str = r#"
        syntax = "proto3";
        package shop;
        import "google/protobuf/timestamp.proto";
        message Customer { string name = 1; }
        message Order {
            message Line { string sku = 1; int32 qty = 2; }
            string id = 1;
            repeated Line lines = 2;
            google.protobuf.Timestamp at = 3;
        }
    "#;

    #[test]
    fn index_paths_name_top_level_and_nested_messages() {
        let pool = compile(PROTO, HashMap::new()).unwrap();
        assert_eq!(
            message_at(&pool, &[0]).unwrap().full_name(),
            "shop.Customer"
        );
        assert_eq!(message_at(&pool, &[1]).unwrap().full_name(), "shop.Order");
        assert_eq!(
            message_at(&pool, &[1, 0]).unwrap().full_name(),
            "shop.Order.Line"
        );
        assert!(message_at(&pool, &[2]).unwrap_err().contains("#2"));
        assert!(
            message_at(&pool, &[1, 3])
                .unwrap_err()
                .contains("shop.Order")
        );
    }

    #[test]
    fn json_round_trips_through_a_dynamic_message() {
        let pool = compile(PROTO, HashMap::new()).unwrap();
        let order = pool.get_message_by_name("shop.Order").unwrap();
        let line = r#"{"id":"o-1","lines":[{"sku":"a","qty":2}],"at":"2026-12-06T07:00:00Z"}"#;
        let mut json = serde_json::Deserializer::from_str(line);
        let m = DynamicMessage::deserialize(order.clone(), &mut json).unwrap();
        let bytes = prost::Message::encode_to_vec(&m);
        let back = DynamicMessage::decode(order, bytes.as_slice()).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), line);
    }

    #[test]
    fn a_registered_file_descriptor_compiles_like_its_text() {
        use base64::Engine as _;
        let pool = compile(PROTO, HashMap::new()).unwrap();
        let mut file = pool
            .get_file_by_name(ROOT)
            .unwrap()
            .file_descriptor_proto()
            .clone();
        file.name = Some("shop/order.proto".into());
        let b64 =
            base64::engine::general_purpose::STANDARD.encode(prost::Message::encode_to_vec(&file));
        let again = compile(&b64, HashMap::new()).unwrap();
        assert_eq!(
            message_at(&again, &[1, 0]).unwrap().full_name(),
            "shop.Order.Line"
        );
        assert!(
            descriptor("x.proto", PROTO).is_none(),
            ".proto text is not a descriptor"
        );
    }

    #[test]
    fn a_bad_schema_names_the_problem() {
        let err = compile(
            "syntax = \"proto3\"; message A { strin x = 1; }",
            HashMap::new(),
        )
        .unwrap_err();
        assert!(err.contains("strin"), "{err}");
        let err = compile("import \"missing.proto\"; message A {}", HashMap::new()).unwrap_err();
        assert!(err.contains("missing.proto"), "{err}");
    }
}

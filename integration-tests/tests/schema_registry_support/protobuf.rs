//! The Protobuf interop fixture: the `.proto` files and `prost` types of
//! `protobuf_fixture()` in sr_interop.py (shop/customer.proto imported by
//! shop/order.proto, whose `Order` has a nested `Line`).

pub const CUSTOMER_PROTO: &str = r#"syntax = "proto3";
package shop.v1;

message Customer {
  string name = 1;
  string email = 2;
}
"#;

pub const ORDER_PROTO: &str = r#"syntax = "proto3";
package shop.v1;

import "shop/customer.proto";

// An order: the file's first (and only) top-level message.
message Order {
  message Line {
    string sku = 1;
    int32 qty = 2;
  }
  enum Status {
    NEW = 0;
    PAID = 1;
  }
  int64 id = 1;
  Customer customer = 2;
  repeated Line lines = 3;
  Status status = 4;
  bytes payload = 5;
  double total = 6;
}
"#;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Customer {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub email: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Line {
    #[prost(string, tag = "1")]
    pub sku: String,
    #[prost(int32, tag = "2")]
    pub qty: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Order {
    #[prost(int64, tag = "1")]
    pub id: i64,
    #[prost(message, optional, tag = "2")]
    pub customer: Option<Customer>,
    #[prost(message, repeated, tag = "3")]
    pub lines: Vec<Line>,
    #[prost(int32, tag = "4")]
    pub status: i32,
    #[prost(bytes = "vec", tag = "5")]
    pub payload: Vec<u8>,
    #[prost(double, tag = "6")]
    pub total: f64,
}

/// `protobuf_fixture()` of sr_interop.py: two orders, then a line.
pub fn orders() -> Vec<Order> {
    vec![
        Order {
            id: 1,
            customer: Some(Customer {
                name: "Ada".into(),
                email: "ada@example.com".into(),
            }),
            lines: vec![
                Line {
                    sku: "tea".into(),
                    qty: 2,
                },
                Line {
                    sku: "cake".into(),
                    qty: 1,
                },
            ],
            status: 1,
            payload: vec![0, 1, 0xfe, 0xff],
            total: 12.34,
        },
        Order {
            id: -9_000_000_000,
            customer: Some(Customer {
                name: "Bob".into(),
                email: String::new(),
            }),
            lines: vec![],
            status: 0,
            payload: vec![],
            total: -0.5,
        },
    ]
}

pub fn gift() -> Line {
    Line {
        sku: "gift".into(),
        qty: 3,
    }
}

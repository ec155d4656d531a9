//! The `alexnet-lab` command line: the lab's jobs from a terminal.

use anyhow::Result;
use candle_core::Device;
use clap::{Parser, Subcommand, ValueEnum};

use crate::complexity::{lecture, Complexity};
use crate::models::ModelKind;
use crate::shapes;

#[derive(Parser, Debug)]
#[command(name = "alexnet-lab", version, about = "AlexNet lab: models, complexity, shapes (d2l 7.1 in Rust)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

fn parse_input(s: &str) -> std::result::Result<[usize; 3], String> {
    crate::parse_chw(s).map_err(|e| e.to_string())
}

#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// Which network.
    #[arg(long, value_enum, default_value = "alexnet")]
    pub model: ModelKind,
    /// Input shape of one example, CxHxW (default: the model's own, e.g. 1x224x224).
    #[arg(long, value_parser = parse_input)]
    pub input: Option<[usize; 3]>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The lecture's shape walk: each layer's output shape for one random input.
    Shapes {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Parameters, multiply-adds and FLOPs per layer, with totals.
    Complexity {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Also print the lecture's complexity table beside the computed one.
        #[arg(long)]
        compare_lecture: bool,
    },
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Shapes { model, format } => {
            let (net, _) = model.model.init(model.input, 0, &Device::Cpu)?;
            let steps = shapes::walk_random(&net, 0)?;
            match format {
                Format::Table => print!("{}", shapes::render(&steps)),
                Format::Csv => {
                    println!("index,layer,output_shape");
                    for s in &steps {
                        let shape = s.output_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x");
                        println!("{},{},{}", s.index, s.layer, shape);
                    }
                }
                Format::Json => println!("{}", serde_json::to_string_pretty(&steps)?),
            }
        }
        Command::Complexity { model, format, compare_lecture } => {
            let input = model.input.unwrap_or_else(|| model.model.default_input());
            let (net, _) = model.model.init(Some(input), 0, &Device::Cpu)?;
            let c = Complexity::of(&net)?;
            match format {
                Format::Table => print!("{}", c.to_table()),
                Format::Csv => print!("{}", c.to_csv()),
                Format::Json if compare_lecture => {
                    let cmp = lecture::compare_default()?;
                    println!("{}", serde_json::json!({ "complexity": c, "lecture_comparison": cmp }));
                }
                Format::Json => println!("{}", c.to_json()),
            }
            if compare_lecture && format != Format::Json {
                println!("\nThe lecture's table beside the computed one (d2l AlexNet, 224x224):");
                print!("{}", lecture::render_comparison(&lecture::compare_default()?));
            }
        }
    }
    Ok(())
}

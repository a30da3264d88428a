use clap::{Parser, Subcommand};
use tableau_scim::sim::{SimArgs, run_cli};

#[derive(Parser)]
#[command(name = "tableau-scim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Tableau REST API simulator.
    Sim(SimArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Sim(args) => run_cli(args).await,
    }
}

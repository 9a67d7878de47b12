//! `hotspare licence` (also `hotspare license`, the spelling of earlier
//! firmware): the vendor's offline licence tools (`keygen`, `issue`), the
//! check an installer runs on a licence file (`verify`) and the identity a
//! licence for this box must name (`box-id`). The formats and rules are in
//! `hotspare_failover::licence`.

use std::path::PathBuf;

use hotspare_failover::licence::{self, Licence, LicenceFields};

use crate::CliError;

#[derive(clap::Args, Debug)]
pub struct LicenceArgs {
    #[command(subcommand)]
    pub command: LicenceCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum LicenceCommand {
    /// Creates a licence signing key (vendor, offline). Prints the public key.
    Keygen {
        /// Key file to create (mode 0600; never overwritten).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Signs a licence for one box.
    Issue {
        /// Signing key file (from `licence keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The box the licence is bound to (what `hotspare licence box-id` prints on it).
        #[arg(long)]
        box_id: String,
        /// NVRs the box may monitor (4..=16).
        #[arg(long)]
        nvrs: u8,
        /// Channels it may record at once (16, 20, 32, 36 or 64).
        #[arg(long)]
        channels: u16,
        /// Licence id (default: L-<date>-<random>).
        #[arg(long)]
        licence_id: Option<String>,
        /// Licence file to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Prints this box's licence identity (factory id or hardware serial) and
    /// where it comes from. A licence for this box must be issued for it.
    BoxId,
    /// Checks a licence file's signature and values (and its box, with --box-id).
    Verify {
        file: PathBuf,
        /// Also check that the licence is bound to this box.
        #[arg(long)]
        box_id: Option<String>,
    },
}

pub fn run(args: LicenceArgs) -> Result<(), CliError> {
    let err = |e: licence::LicenceError| CliError::new(e.to_string());
    match args.command {
        LicenceCommand::Keygen { output } => {
            let key = licence::generate_key().map_err(err)?;
            licence::write_signing_key(&output, &key).map_err(err)?;
            let public = key.verifying_key();
            println!("wrote signing key {} (keep it offline)", output.display());
            println!("public key:  {}", hex_bytes(public.as_bytes()));
            println!("fingerprint: {}", licence::fingerprint(&public));
            Ok(())
        }
        LicenceCommand::Issue { key, box_id, nvrs, channels, licence_id, output } => {
            let signing_key = licence::read_signing_key(&key).map_err(err)?;
            let mut fields = LicenceFields::new(&box_id, nvrs, channels).map_err(err)?;
            if let Some(id) = licence_id {
                fields.licence_id = id;
            }
            let text = licence::issue(&signing_key, &fields).map_err(err)?;
            std::fs::write(&output, text)
                .map_err(|e| CliError::new(format!("cannot write {}: {e}", output.display())))?;
            println!(
                "wrote licence {} for box {box_id}: {nvrs} NVRs, {channels} channels (id {}, key {})",
                output.display(),
                fields.licence_id,
                licence::fingerprint(&signing_key.verifying_key())
            );
            Ok(())
        }
        LicenceCommand::BoxId => {
            let b = licence::box_identity().map_err(err)?;
            println!("{}", b.id);
            eprintln!("box id from {}", b.source);
            Ok(())
        }
        LicenceCommand::Verify { file, box_id } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", file.display())))?;
            let licence = Licence::parse(&text, &file.display().to_string()).map_err(err)?;
            let key_name = licence.check().map_err(err)?;
            match box_id {
                Some(id) => {
                    let capacity = licence.verify(&id).map_err(err)?;
                    println!("{}: valid for box {id}: {capacity}, signed by the {key_name} key", file.display());
                }
                None => println!(
                    "{}: valid signature ({key_name} key), bound to box {}: {} NVRs, {} channels, licence {} \
                     (box not checked: give --box-id)",
                    file.display(),
                    licence.box_id,
                    licence.nvrs,
                    licence.channels,
                    licence.licence_id
                ),
            }
            Ok(())
        }
    }
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

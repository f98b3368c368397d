# Read by tests/test_real_host.py and run on the real Windows host through testinfra's
# WinRM backend (powershell -EncodedCommand): what an operator would check by hand,
# independent of the role's own probe module. Prints one JSON object.
$ErrorActionPreference = 'Stop'
$result = [ordered]@{ services = @(); parameters = $null; channel = $null }
foreach ($name in @('Sysmon64', 'Sysmon64a', 'Sysmon')) {
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name = '$name'"
    if ($null -ne $service) {
        $result.services += [ordered]@{ name = $service.Name; state = $service.State; start_mode = $service.StartMode; path = $service.PathName }
    }
}
$parameters = 'HKLM:\SYSTEM\CurrentControlSet\Services\SysmonDrv\Parameters'
if (Test-Path -LiteralPath $parameters) {
    $values = Get-ItemProperty -LiteralPath $parameters
    $result.parameters = [ordered]@{ config_file = $values.ConfigFile; config_hash = $values.ConfigHash }
}
$log = Get-WinEvent -ListLog 'Microsoft-Windows-Sysmon/Operational' -ErrorAction SilentlyContinue
if ($null -ne $log) {
    $result.channel = [ordered]@{ max_size = $log.MaximumSizeInBytes; enabled = $log.IsEnabled }
}
ConvertTo-Json -InputObject $result -Depth 4 -Compress

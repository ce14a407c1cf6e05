<?php
/*
 * Draws the charts of a graphite module template as Icinga Web 2 would, with
 * the module's own classes (icingaweb2-module-graphite, Debian): it loads the
 * template file, asks graphite-web which metrics match each curve
 * (metrics/expand), combines them into charts and has graphite-web render
 * each chart as PNG.  Prints JSON: {template: [{metrics, variables, png}]}.
 *
 * php graphite_charts.php TEMPLATE.ini GRAPHITE_WEB_URL HOST SERVICE CHECK_COMMAND OUT_DIR SECONDS
 */
// EmbeddedWeb, not Cli: the module builds its graphite-web URLs with
// Url::fromPath, which Icinga Web refuses in CLI mode.
require_once '/usr/share/php/Icinga/Application/EmbeddedWeb.php';

use Icinga\Module\Graphite\Graphing\GraphiteWebClient;
use Icinga\Module\Graphite\Graphing\MetricsDataSource;
use Icinga\Module\Graphite\Graphing\Templates;
use Icinga\Module\Graphite\Web\Widget\GraphImage;
use Icinga\Web\Url;

list(, $file, $graphite, $host, $service, $command, $out) = $argv;
Icinga\Application\EmbeddedWeb::start('/usr/share/icingaweb2')->getModuleManager()->loadModule('graphite');

$templates = new Templates();
$templates->loadIni($file);
$dataSource = new MetricsDataSource(new GraphiteWebClient(Url::fromPath($graphite)));
$filter = ['host.name' => $host, 'service.name' => $service, 'service.check_command' => $command];

$result = [];
foreach ($templates->getTemplates($command) as $name => $template) {
    $result[$name] = [];
    foreach ($template->getCharts($dataSource, null, $filter) as $number => $chart) {
        // Seconds, as the module's own time ranges give them (it casts to int).
        $chart->setFrom('-' . $argv[7])->setWidth(640)->setHeight(240)->setShowLegend(true);
        $image = new GraphImage($chart);
        $png = "$out/$name-$number.png";
        file_put_contents($png, (string) $image->render());
        $result[$name][] = [
            'metrics' => $chart->getMetrics(),
            'variables' => $chart->getMetricVariables(),
            'png' => $png,
        ];
    }
}
echo json_encode($result, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
